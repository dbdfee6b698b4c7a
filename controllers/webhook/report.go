package webhook

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// CheckRunName is the name of the pull-request check of the egress file.
const CheckRunName = "egress / config"

// Check-run conclusions and annotation levels, as GitHub spells them.
const (
	conclusionSuccess = "success"
	conclusionFailure = "failure"
	conclusionNeutral = "neutral"
	levelFailure      = "failure"
	levelWarning      = "warning"
)

// fileVersion is the egress file at one commit.
type fileVersion struct {
	// data is the file's content; nil when found is false.
	data []byte
	// found is false when the commit has no file.
	found bool
}

// policyGroup is a set of scale sets governed by the same EgressPolicy.
type policyGroup struct {
	// policy governs the scale sets; nil when no policy selects them.
	policy *egressv1alpha1.EgressPolicy
	// scaleSets are "namespace/name", sorted.
	scaleSets []string
	// githubHost is the GitHub host of the scale sets.
	githubHost string
}

// annotation is one line-level finding of the check.
type annotation struct {
	line    int
	level   string
	title   string
	message string
}

// configReport is the content of the check run.
type configReport struct {
	conclusion  string
	title       string
	summary     string
	annotations []annotation
}

// buildReport checks the file of a pull request's head against every
// policy group and compares the resulting profiles with the base's.
// Problems and dropped entries that several groups share are reported once.
func buildReport(head, base fileVersion, groups []policyGroup, baseRef string) configReport {
	var (
		report  configReport
		summary strings.Builder
		seen    = map[annotation]bool{}
		errors  int
	)
	addAnnotation := func(a annotation) {
		if !seen[a] {
			seen[a] = true
			report.annotations = append(report.annotations, a)
		}
	}

	if len(groups) == 0 {
		fmt.Fprintf(&summary, "No AutoscalingRunnerSet in the cluster reads `%s` from branch `%s` of this repository, so only the file's syntax was checked.\n", lockdown.ConfigPath, baseRef)
		if head.found {
			_, problems := parseForCheck(head.data, nil)
			for _, p := range problems {
				addAnnotation(problemAnnotation(p))
			}
			errors = len(problems)
		}
	}

	for _, g := range groups {
		errors += reportGroup(&summary, head, base, g, addAnnotation)
	}

	sort.SliceStable(report.annotations, func(i, j int) bool {
		return report.annotations[i].line < report.annotations[j].line
	})
	report.summary = summary.String()
	switch {
	case errors > 0:
		report.conclusion = conclusionFailure
		report.title = fmt.Sprintf("%s has %s", lockdown.ConfigPath, plural(countLevel(report.annotations, levelFailure), "error"))
	case len(groups) == 0:
		report.conclusion = conclusionNeutral
		report.title = "No scale set reads this file"
	default:
		report.conclusion = conclusionSuccess
		report.title = fmt.Sprintf("%s is valid", lockdown.ConfigPath)
	}
	if dropped := countLevel(report.annotations, levelWarning); dropped > 0 {
		report.title += fmt.Sprintf("; the policy drops %s", plural(dropped, "entry"))
	}
	return report
}

// reportGroup writes one policy group's section of the summary, adds its
// annotations, and returns its number of problems.
func reportGroup(summary *strings.Builder, head, base fileVersion, g policyGroup, addAnnotation func(annotation)) int {
	if g.policy == nil {
		fmt.Fprintf(summary, "\n### No EgressPolicy\n\nNo EgressPolicy selects %s, so arc-lockdown does not manage their egress and only the file's syntax was checked for them.\n", quoteList(g.scaleSets))
		if !head.found {
			return 0
		}
		_, problems := parseForCheck(head.data, nil)
		for _, p := range problems {
			addAnnotation(problemAnnotation(p))
		}
		return len(problems)
	}
	spec := &g.policy.Spec
	fmt.Fprintf(summary, "\n### EgressPolicy `%s`\n\nScale sets: %s.\n\n", g.policy.Name, quoteList(g.scaleSets))

	var headCfg *lockdown.Config
	var problems []lockdown.Problem
	if head.found {
		headCfg, problems = parseForCheck(head.data, spec)
	}
	for _, p := range problems {
		addAnnotation(problemAnnotation(p))
	}
	headProfile := lockdown.EffectiveProfile(spec, headCfg, g.githubHost)
	for _, d := range headProfile.Dropped {
		if d.Line > 0 {
			addAnnotation(droppedAnnotation(d))
		}
	}

	if len(problems) > 0 {
		fmt.Fprintf(summary, "The file has %s. After the merge these scale sets would keep their last applied profile until the file is fixed.\n", plural(len(problems), "error"))
		return len(problems)
	}

	baseProfile, baseNote := profileAt(base, spec, g.githubHost)
	added, removed := diffDestinations(baseProfile.Destinations, headProfile.Destinations)
	fmt.Fprintf(summary, "After the merge: mode `%s`, %s.%s\n", headProfile.Mode, plural(len(headProfile.Destinations), "destination"), baseNote)
	if baseProfile.Mode != headProfile.Mode {
		fmt.Fprintf(summary, "\nMode changes from `%s` to `%s`.\n", baseProfile.Mode, headProfile.Mode)
	}
	writeDestinations(summary, "Added", added)
	writeDestinations(summary, "Removed", removed)
	if len(added) == 0 && len(removed) == 0 {
		summary.WriteString("\nThe destinations do not change.\n")
	}
	if len(headProfile.Dropped) > 0 {
		summary.WriteString("\nDropped by the policy:\n\n")
		for _, d := range headProfile.Dropped {
			fmt.Fprintf(summary, "- `%s`: %s\n", d.Entry, d.Reason)
		}
	}
	return 0
}

// profileAt returns the effective profile of the file at the base commit,
// and a note for the summary when the comparison is not against a valid
// file.
func profileAt(base fileVersion, spec *egressv1alpha1.EgressPolicySpec, githubHost string) (lockdown.Profile, string) {
	if !base.found {
		return lockdown.EffectiveProfile(spec, nil, githubHost), " The base branch has no file, so the comparison is with the profile of a repository without one."
	}
	cfg, err := lockdown.ParseConfig(lockdown.ConfigPath, base.data, spec)
	if err != nil {
		return lockdown.Profile{}, " The base branch's file has errors, so every destination is listed as added."
	}
	return lockdown.EffectiveProfile(spec, cfg, githubHost), ""
}

// diffDestinations returns the destinations of head that base lacks and
// those of base that head lacks. Two destinations are the same when host,
// protocol and ports all match.
func diffDestinations(base, head []lockdown.Destination) (added, removed []lockdown.Destination) {
	inBase := map[string]bool{}
	for _, d := range base {
		inBase[destinationString(d)] = true
	}
	inHead := map[string]bool{}
	for _, d := range head {
		inHead[destinationString(d)] = true
		if !inBase[destinationString(d)] {
			added = append(added, d)
		}
	}
	for _, d := range base {
		if !inHead[destinationString(d)] {
			removed = append(removed, d)
		}
	}
	return added, removed
}

// destinationString formats a destination as "host:443,8443/TLS".
func destinationString(d lockdown.Destination) string {
	ports := make([]string, len(d.Ports))
	for i, p := range d.Ports {
		ports[i] = strconv.Itoa(int(p))
	}
	return fmt.Sprintf("%s:%s/%s", d.Host, strings.Join(ports, ","), d.Protocol)
}

func writeDestinations(summary *strings.Builder, heading string, destinations []lockdown.Destination) {
	if len(destinations) == 0 {
		return
	}
	fmt.Fprintf(summary, "\n%s:\n\n", heading)
	for _, d := range destinations {
		source := string(d.Source)
		if d.CatalogName != "" {
			source += " " + d.CatalogName
		}
		fmt.Fprintf(summary, "- `%s` (%s)\n", destinationString(d), source)
	}
}

// problemAnnotation turns a parse problem into a failure annotation.
func problemAnnotation(p lockdown.Problem) annotation {
	message := p.Message
	if p.Value != "" {
		message += fmt.Sprintf(" (value %q)", p.Value)
	}
	if p.Hint != "" {
		message += ": " + p.Hint
	}
	return annotation{line: max(p.Line, 1), level: levelFailure, title: "Invalid egress configuration", message: message}
}

// droppedAnnotation turns an entry the policy drops into a warning
// annotation.
func droppedAnnotation(d lockdown.Dropped) annotation {
	return annotation{
		line:    d.Line,
		level:   levelWarning,
		title:   "Entry dropped by the EgressPolicy",
		message: fmt.Sprintf("%s is dropped: %s", d.Entry, d.Reason),
	}
}

func countLevel(annotations []annotation, level string) int {
	n := 0
	for _, a := range annotations {
		if a.level == level {
			n++
		}
	}
	return n
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(noun, "y"))
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func quoteList(values []string) string {
	quoted := slices.Clone(values)
	for i, v := range quoted {
		quoted[i] = "`" + v + "`"
	}
	return strings.Join(quoted, ", ")
}
