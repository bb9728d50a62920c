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

// results collects per-round figures for both sides.
type results struct {
	cfg            *config
	aLabel, bLabel string
	aArgv, bArgv   []string
	order          []row
	a, b           map[string][]float64 // by row key, one value per round
}

func newResults(cfg *config, aLabel, bLabel string, aArgv, bArgv []string) *results {
	return &results{
		cfg: cfg, aLabel: aLabel, bLabel: bLabel, aArgv: aArgv, bArgv: bArgv,
		a: map[string][]float64{}, b: map[string][]float64{},
	}
}

// add records one side's values of f for one round, one per row of f.
func (r *results) add(f *figure, side string, vs []float64) {
	for i, v := range vs {
		k := f.rows[i].key
		if _, ok := r.a[k]; !ok {
			r.order = append(r.order, f.rows[i])
			r.a[k], r.b[k] = nil, nil
		}
		if side == "A" {
			r.a[k] = append(r.a[k], v)
		} else {
			r.b[k] = append(r.b[k], v)
		}
	}
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

// summarize returns nil for no values.
func summarize(vs []float64) *stats {
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
// rounds and the median (min, max) of the per-round A/B ratios.
func (r *results) print(w io.Writer) {
	c := r.cfg
	fmt.Fprintf(w, "rounds=%d duration=%v warmup=%v conns=%d size=%d workers=%d idle-conns=%d hold-conns=%d\n",
		c.rounds, c.duration, c.warmup, c.conns, c.size, c.workers, c.idleConns, c.holdConns)
	fmt.Fprintf(w, "%s: %s\n", r.aLabel, strings.Join(r.aArgv, " "))
	fmt.Fprintf(w, "%s: %s\n", r.bLabel, strings.Join(r.bArgv, " "))
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintf(tw, "figure\t%s\t%s\tA/B\n", r.aLabel, r.bLabel)
	for _, f := range r.order {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.label,
			formatStats(summarize(r.a[f.key]), formatValue),
			formatStats(summarize(r.b[f.key]), formatValue),
			formatStats(summarize(ratios(r.a[f.key], r.b[f.key])), formatRatio))
	}
	tw.Flush()
}

type jsonFigure struct {
	Label string `json:"label"`
	Unit  string `json:"unit"`
	A     *stats `json:"a"`
	B     *stats `json:"b"`
	Ratio *stats `json:"ratio"` // A/B per round
}

type jsonReport struct {
	Config  map[string]any        `json:"config"`
	Figures map[string]jsonFigure `json:"figures"`
}

// printJSON writes every figure and ratio as one JSON object on one line.
func (r *results) printJSON(w io.Writer) error {
	c := r.cfg
	rep := jsonReport{
		Config: map[string]any{
			"rounds": c.rounds, "duration": c.duration.String(), "warmup": c.warmup.String(),
			"conns": c.conns, "size": c.size, "workers": c.workers, "idle_conns": c.idleConns,
			"hold_conns": c.holdConns, "a": strings.Join(r.aArgv, " "), "b": strings.Join(r.bArgv, " "),
			"a_label": r.aLabel, "b_label": r.bLabel,
		},
		Figures: map[string]jsonFigure{},
	}
	for _, f := range r.order {
		rep.Figures[f.key] = jsonFigure{
			Label: f.label, Unit: f.unit,
			A: summarize(r.a[f.key]), B: summarize(r.b[f.key]),
			Ratio: summarize(ratios(r.a[f.key], r.b[f.key])),
		}
	}
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
