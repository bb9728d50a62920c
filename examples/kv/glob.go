package main

// globMatch reports whether s matches a Redis glob pattern (KEYS, CONFIG
// GET), with Redis's rules: '*' matches any run of bytes (also none), '?'
// any one byte, "[abc]" one byte of the set and "[^abc]" one byte not in
// it, "[a-z]" a byte in the range (reversed ends are swapped; ranges and
// bytes mix in one set), and a backslash makes the next byte stand for
// itself, also inside brackets.
//
// A '[' without its ']' takes the rest of the pattern as its set, and a
// trailing backslash matches itself, as in Redis. Bytes, not runes, are
// compared.
//
// Each element but '*' matches exactly one byte, so backtracking to the
// last '*' is enough: the match takes O(len(pattern)*len(s)) at worst,
// never exponential time.
func globMatch(pattern []byte, s string) bool {
	p, i := 0, 0
	star, starI := -1, 0 // after the last '*', and where its match ends
	for i < len(s) {
		if p < len(pattern) {
			if pattern[p] == '*' {
				for p < len(pattern) && pattern[p] == '*' {
					p++
				}
				if p == len(pattern) {
					return true
				}
				star, starI = p, i
				continue
			}
			if next, ok := globOne(pattern, p, s[i]); ok {
				p, i = next, i+1
				continue
			}
		}
		if star < 0 {
			return false
		}
		starI++ // the '*' takes one more byte
		p, i = star, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// globOne matches the element at pattern[p] (not '*') against c and
// returns where the next element starts.
func globOne(pattern []byte, p int, c byte) (next int, ok bool) {
	switch pattern[p] {
	case '?':
		return p + 1, true
	case '\\':
		if p+1 < len(pattern) {
			p++
		}
		return p + 1, pattern[p] == c
	case '[':
		p++
		not := p < len(pattern) && pattern[p] == '^'
		if not {
			p++
		}
		match := false
		for p < len(pattern) && pattern[p] != ']' {
			switch {
			case pattern[p] == '\\' && p+1 < len(pattern):
				p++
				match = match || pattern[p] == c
			case p+2 < len(pattern) && pattern[p+1] == '-':
				lo, hi := pattern[p], pattern[p+2]
				if lo > hi {
					lo, hi = hi, lo
				}
				match = match || (c >= lo && c <= hi)
				p += 2
			default:
				match = match || pattern[p] == c
			}
			p++
		}
		if p < len(pattern) {
			p++ // the ']'
		}
		return p, match != not
	}
	return p + 1, pattern[p] == c
}
