package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// envLoad turns on the tests that run the tool for real against
// redis-benchmark or build the nested gnetecho module (which needs gnet,
// nbio and redcon from the module proxy): tens of seconds, so `go test
// ./...` leaves them out. `.ci/run` runs them as a step of their own:
//
//	ETCP_LOAD=1 go test -race -count=1 -run 'Gnet|Redis|Nbio|Redcon|Cluster' ./test/load/
const envLoad = "ETCP_LOAD"

// needLoad skips t unless ETCP_LOAD=1.
func needLoad(t *testing.T) {
	t.Helper()
	if os.Getenv(envLoad) != "1" {
		t.Skipf("a real load run: set %s=1 to run it", envLoad)
	}
}

// Table cells as report.go prints them: a side's median (min, max), a
// ratio's median (min, max), or n/a when nothing was measured (a ratio
// whose B rounded to 0, as a CPU time under one clock tick does).
const (
	cellRE  = `(\S+) \(min \S+ max \S+\)`
	ratioRE = `(?:\d+\.\d\d \(min \d+\.\d\d max \d+\.\d\d\)|n/a)`
)

// tableRow finds the row of label with the given number of side cells and
// ratio cells, and returns each side's median. It checks only the
// structure: the row is there, every median parses and is not negative;
// how the figures compare is for the people reading the table.
func tableRow(text, label string, sides, ratios int) ([]float64, error) {
	expr := `(?m)^` + regexp.QuoteMeta(label)
	for range sides {
		expr += `\s+` + cellRE
	}
	for range ratios {
		expr += `\s+` + ratioRE
	}
	m := regexp.MustCompile(expr + `$`).FindStringSubmatch(text)
	if m == nil {
		return nil, fmt.Errorf("no table row %q with %d sides and %d ratios", label, sides, ratios)
	}
	var out []float64
	for _, s := range m[1:] {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 || math.IsNaN(v) {
			return nil, fmt.Errorf("row %q: median %q is not a number ≥ 0", label, s)
		}
		out = append(out, v)
	}
	return out, nil
}

// requireRow is tableRow for a test: a missing or malformed row fails it.
func requireRow(t *testing.T, text, label string, sides, ratios int) []float64 {
	t.Helper()
	v, err := tableRow(text, label, sides, ratios)
	if err != nil {
		t.Error(err)
	}
	return v
}

// requireMemoryRow is requireRow for a row of RSS growth per connection,
// whose medians may be negative (the heap shrank).
func requireMemoryRow(t *testing.T, text, label string, sides, ratios int) {
	t.Helper()
	expr := fmt.Sprintf(`(?m)^%s(?:\s+%s){%d}(?:\s+%s){%d}$`, regexp.QuoteMeta(label), cellRE, sides, ratioRE, ratios)
	if !regexp.MustCompile(expr).MatchString(text) {
		t.Errorf("no table row %q with %d sides and %d ratios", label, sides, ratios)
	}
}

func TestTableRow(t *testing.T) {
	text := "figure   A   B   A/B\n" +
		"redis INCR CPU µs/rq   3.5 (min 3 max 4)   0 (min 0 max 0)   n/a\n" +
		"redis INCR rq/s   1.2e+05 (min 1 max 2)   100 (min 90 max 110)   1.20 (min 1.00 max 1.30)\n"
	if v, err := tableRow(text, "redis INCR CPU µs/rq", 2, 1); err != nil || len(v) != 2 || v[0] != 3.5 || v[1] != 0 {
		t.Errorf("CPU row: %v, %v", v, err)
	}
	if v, err := tableRow(text, "redis INCR rq/s", 2, 1); err != nil || len(v) != 2 || v[0] != 1.2e5 || v[1] != 100 {
		t.Errorf("rq/s row: %v, %v", v, err)
	}
	for _, tc := range []struct{ text, label string }{
		{text, "redis GET rq/s"},                                           // no such row
		{text, "redis INCR"},                                               // a prefix of a label
		{"x   n/a   1 (min 1 max 1)   n/a\n", "x"},                         // a side not measured
		{"x   -1 (min -1 max -1)   1 (min 1 max 1)   n/a\n", "x"},          // negative
		{"x   1 (min 1 max 1)   1 (min 1 max 1)   1 (min 1 max 1)\n", "x"}, // not a ratio
	} {
		if v, err := tableRow(tc.text, tc.label, 2, 1); err == nil {
			t.Errorf("tableRow accepted %q in %q: %v", tc.label, tc.text, v)
		}
	}
}

// jsonFigure is one figure of the -json line as the tests read it: a side
// or ratio the run did not have stays nil.
type jsonFigure struct {
	Label  string `json:"label"`
	Unit   string `json:"unit"`
	A      *stats `json:"a"`
	B      *stats `json:"b"`
	C      *stats `json:"c"`
	D      *stats `json:"d"`
	Ratio  *stats `json:"ratio"`   // A/B per round
	RatioC *stats `json:"ratio_c"` // C/B per round
	RatioD *stats `json:"ratio_d"` // D/B per round
}

// lastJSON decodes the figures of the -json line, the last of text.
func lastJSON(t *testing.T, text string) map[string]jsonFigure {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	var rep struct {
		Figures map[string]jsonFigure `json:"figures"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("last line is not JSON: %v", err)
	}
	return rep.Figures
}
