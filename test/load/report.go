package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// nan marks a value that could not be measured (printed as n/a, left out
// of ratios).
var nan = math.NaN()

// results collects per-round figures for every side.
type results struct {
	cfg   *config
	nice  string // the priorities, for the header
	sides []*side
	order []row
	vals  map[string]map[string][]float64 // row key -> side name -> one value per round
}

func newResults(cfg *config, sides []*side, nice string) *results {
	return &results{cfg: cfg, sides: sides, nice: nice, vals: map[string]map[string][]float64{}}
}

// add records one side's values of f for one round, one per row of f.
func (r *results) add(f *figure, side string, vs []float64) {
	for i, v := range vs {
		k := f.rows[i].key
		if _, ok := r.vals[k]; !ok {
			r.order = append(r.order, f.rows[i])
			r.vals[k] = map[string][]float64{}
		}
		r.vals[k][side] = append(r.vals[k][side], v)
	}
}

// ratioSides are the sides compared with B, each in a column "X/B".
func (r *results) ratioSides() []*side {
	var out []*side
	for _, sd := range r.sides {
		if sd.name != "B" {
			out = append(out, sd)
		}
	}
	return out
}

// ratios returns A/B for every round where both sides were measured and B
// is non-zero.
func ratios(a, b []float64) []float64 {
	var out []float64
	for i := 0; i < len(a) && i < len(b); i++ {
		if b[i] != 0 && !math.IsNaN(a[i]) && !math.IsNaN(b[i]) {
			out = append(out, a[i]/b[i])
		}
	}
	return out
}

// stats summarises values over rounds.
type stats struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Rounds []float64 `json:"rounds"`
}

// summarize returns nil for no values. NaN values (not measured) are left
// out.
func summarize(vs []float64) *stats {
	vs = slices.DeleteFunc(slices.Clone(vs), math.IsNaN)
	if len(vs) == 0 {
		return nil
	}
	return &stats{Median: median(vs), Min: slices.Min(vs), Max: slices.Max(vs), Rounds: slices.Clone(vs)}
}

// median of vs (mean of the two middle values for an even count); NaN if empty.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// formatValue prints large figures as integers and small ones with 3
// significant digits.
func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func formatStats(s *stats, format func(float64) string) string {
	if s == nil {
		return "n/a"
	}
	return fmt.Sprintf("%s (min %s max %s)", format(s.Median), format(s.Min), format(s.Max))
}

func formatRatio(v float64) string { return fmt.Sprintf("%.2f", v) }

// print writes the table: per figure, each side's median (min, max) over
// rounds and, for every side but B, the median (min, max) of its per-round
// ratios to B.
func (r *results) print(w io.Writer) {
	c := r.cfg
	fmt.Fprintf(w, "rounds=%d duration=%v warmup=%v conns=%d size=%d workers=%d idle-conns=%d hold-conns=%d\n",
		c.rounds, c.duration, c.warmup, c.conns, c.size, c.workers, c.idleConns, c.holdConns)
	if c.redisMode {
		fmt.Fprintf(w, "redis-benchmark: -c %d, -redis-requests %d (x depth) per run\n", c.conns, c.redisRequests)
	}
	fmt.Fprintf(w, "priority: %s\n", r.nice)
	for _, sd := range r.sides {
		fmt.Fprintf(w, "%s: %s\n", sd.label, sd.command())
	}
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprint(tw, "figure")
	for _, sd := range r.sides {
		fmt.Fprintf(tw, "\t%s", sd.label)
	}
	for _, sd := range r.ratioSides() {
		fmt.Fprintf(tw, "\t%s/B", sd.name)
	}
	fmt.Fprintln(tw)
	for _, f := range r.order {
		v := r.vals[f.key]
		fmt.Fprint(tw, f.label)
		for _, sd := range r.sides {
			fmt.Fprintf(tw, "\t%s", formatStats(summarize(v[sd.name]), formatValue))
		}
		for _, sd := range r.ratioSides() {
			fmt.Fprintf(tw, "\t%s", formatStats(summarize(ratios(v[sd.name], v["B"])), formatRatio))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

type jsonReport struct {
	Config  map[string]any            `json:"config"`
	Figures map[string]map[string]any `json:"figures"`
}

// printJSON writes every figure and ratio as one JSON object on one line.
func (r *results) printJSON(w io.Writer) error {
	c := r.cfg
	rep := jsonReport{
		Config: map[string]any{
			"rounds": c.rounds, "duration": c.duration.String(), "warmup": c.warmup.String(),
			"conns": c.conns, "size": c.size, "workers": c.workers, "idle_conns": c.idleConns,
			"hold_conns": c.holdConns, "nice": c.nice, "priority": r.nice,
		},
		Figures: map[string]map[string]any{},
	}
	if c.redisMode {
		rep.Config["redis_requests"] = c.redisRequests
	}
	for _, sd := range r.sides {
		k := strings.ToLower(sd.name)
		rep.Config[k] = sd.command()
		rep.Config[k+"_label"] = sd.label
	}
	// Per figure: its label and unit, each side's stats under its name
	// ("a", "b", ...), and each ratio's under "ratio" (A/B) or "ratio_x"
	// (X/B); null where nothing was measured.
	for _, f := range r.order {
		v := r.vals[f.key]
		jf := map[string]any{"label": f.label, "unit": f.unit}
		for _, sd := range r.sides {
			jf[strings.ToLower(sd.name)] = summarize(v[sd.name])
		}
		for _, sd := range r.ratioSides() {
			k := "ratio_" + strings.ToLower(sd.name)
			if sd.name == "A" {
				k = "ratio"
			}
			jf[k] = summarize(ratios(v[sd.name], v["B"]))
		}
		rep.Figures[f.key] = jf
	}
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
