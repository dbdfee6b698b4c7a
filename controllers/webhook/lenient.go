package webhook

import (
	"bytes"
	"errors"

	"go.yaml.in/yaml/v3"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// parseForCheck parses a repository file and returns its problems. When the
// only problems sit inside entries of a block-style allow list, it also
// returns the Config of the remaining entries, so that the check can report
// which of them the ceiling drops. It finds that Config by parsing again
// with the lines of the faulty entries blanked, which keeps every other
// entry on its original line. The controller itself never uses such a
// partial Config: a file with problems leaves the last applied profile in
// force.
func parseForCheck(data []byte, policy *egressv1alpha1.EgressPolicySpec) (cfg *lockdown.Config, problems []lockdown.Problem) {
	cfg, err := lockdown.ParseConfig(lockdown.ConfigPath, data, policy)
	if err == nil {
		return cfg, nil
	}
	var configErr *lockdown.ConfigError
	if !errors.As(err, &configErr) {
		return nil, []lockdown.Problem{{File: lockdown.ConfigPath, Line: 1, Message: err.Error()}}
	}
	problems = configErr.Problems

	blanked, ok := blankFaultyAllowEntries(data, problems)
	if !ok {
		return nil, problems
	}
	partial, err := lockdown.ParseConfig(lockdown.ConfigPath, blanked, policy)
	if err != nil {
		return nil, problems
	}
	return partial, problems
}

// blankFaultyAllowEntries empties the lines of every allow entry that holds
// a problem. It returns false when a problem lies outside the allow list's
// entries, or when the list is not a block sequence, because then no
// line-preserving repair exists.
func blankFaultyAllowEntries(data []byte, problems []lockdown.Problem) ([]byte, bool) {
	spans := allowEntrySpans(data)
	if len(spans) == 0 {
		return nil, false
	}
	lines := bytes.Split(data, []byte("\n"))
	for _, p := range problems {
		span, found := spanHolding(spans, p.Line)
		if !found {
			return nil, false
		}
		for line := span.first; line <= span.last && line <= len(lines); line++ {
			lines[line-1] = nil
		}
	}
	return bytes.Join(lines, []byte("\n")), true
}

// lineSpan is a range of 1-based lines, both ends included.
type lineSpan struct {
	first, last int
}

func spanHolding(spans []lineSpan, line int) (lineSpan, bool) {
	for _, s := range spans {
		if line >= s.first && line <= s.last {
			return s, true
		}
	}
	return lineSpan{}, false
}

// allowEntrySpans returns the lines of each entry of the file's top-level
// allow list: from the entry's first line to the line before the next
// entry, or before the next top-level key for the last entry. It returns
// nil when the file is not YAML or the list is missing or in flow style.
func allowEntrySpans(data []byte) []lineSpan {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) != 1 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil
	}

	var allow *yaml.Node
	end := bytes.Count(data, []byte("\n")) + 1
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, value := root.Content[i], root.Content[i+1]
		if allow != nil && key.Line > allow.Line {
			end = key.Line - 1
			break
		}
		if key.Value == "allow" {
			allow = value
		}
	}
	if allow == nil || allow.Kind != yaml.SequenceNode || allow.Style&yaml.FlowStyle != 0 || len(allow.Content) == 0 {
		return nil
	}

	spans := make([]lineSpan, len(allow.Content))
	for i, item := range allow.Content {
		last := end
		if i+1 < len(allow.Content) {
			last = allow.Content[i+1].Line - 1
		}
		spans[i] = lineSpan{first: item.Line, last: last}
	}
	return spans
}
