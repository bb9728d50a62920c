package pool

// SetInflight sets how many requests connection id has in flight, for
// tests of LeastBusy. It reports whether id is live.
func (p *Pool) SetInflight(id ID, n int64) bool {
	s := p.snap.Load()
	if s == nil {
		return false
	}
	for _, m := range *s {
		if m.id == id {
			m.inflight.Store(n)
			return true
		}
	}
	return false
}
