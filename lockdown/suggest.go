package lockdown

import "strings"

// closestName returns the candidate with the smallest edit distance to name,
// or "" when none is close enough to be a likely typo. Close enough means at
// most a third of the longer string's length, and at least one edit.
func closestName(name string, candidates []string) string {
	best, bestDistance := "", -1
	for _, candidate := range candidates {
		distance := levenshtein(name, candidate)
		if bestDistance < 0 || distance < bestDistance || (distance == bestDistance && candidate < best) {
			best, bestDistance = candidate, distance
		}
	}
	if bestDistance < 0 {
		return ""
	}
	limit := max(len(name), len(best)) / 3
	if limit < 1 {
		limit = 1
	}
	if bestDistance > limit {
		return ""
	}
	return best
}

// levenshtein returns the number of single-byte insertions, deletions and
// substitutions that turn a into b.
func levenshtein(a, b string) int {
	if a == b {
		return 0
	}
	previous := make([]int, len(b)+1)
	current := make([]int, len(b)+1)
	for j := range previous {
		previous[j] = j
	}
	for i := 1; i <= len(a); i++ {
		current[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			current[j] = min(previous[j]+1, current[j-1]+1, previous[j-1]+cost)
		}
		previous, current = current, previous
	}
	return previous[len(b)]
}

// suggestion returns a hint that names the closest valid value, or lists the
// valid values when none is close.
func suggestion(value string, valid []string, what string) string {
	if closest := closestName(value, valid); closest != "" {
		return "did you mean " + quote(closest) + "?"
	}
	if len(valid) == 0 {
		return "the policy defines no " + what + "s"
	}
	const maxListed = 10
	listed := valid
	more := ""
	if len(listed) > maxListed {
		listed = listed[:maxListed]
		more = ", …"
	}
	quoted := make([]string, len(listed))
	for i, v := range listed {
		quoted[i] = quote(v)
	}
	return "valid " + what + "s: " + strings.Join(quoted, ", ") + more
}

func quote(s string) string { return `"` + s + `"` }
