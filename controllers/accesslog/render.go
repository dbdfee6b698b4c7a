package accesslog

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// maxCheckRunText is GitHub's limit on a check run's summary and text, in
// characters.
const maxCheckRunText = 65535

// maxJobNameLength bounds the job name in a check-run name.
const maxJobNameLength = 200

// destinationView is a snapshot of one destination of a job.
type destinationView struct {
	Host       string
	HostSource HostSource
	Port       uint32
	Verdict    Verdict
	Policy     string
	Count      int64
	FirstSeen  time.Time
}

// reportView is a snapshot of one job's state, rendered into a CheckRun.
type reportView struct {
	Job          Job
	Profile      ScaleSetProfile
	ProfileKnown bool
	HeadSHA      string
	// Destinations in first-seen order.
	Destinations []destinationView
	// NewAnnotations indexes into Destinations: those not annotated yet.
	NewAnnotations []int
	// DroppedDestinations counts destinations past the per-job cap.
	DroppedDestinations int64
	MaxDestinations     int
	Final               bool
}

// escapeHost writes every byte of host outside [a-z0-9.-_] as \xNN, except
// a leading "*." of a wildcard, and an IP address in its canonical form.
// Hosts come from SNI and Host headers that job code controls. After
// escaping they cannot carry Markdown, HTML, links, line breaks or backticks.
func escapeHost(host string) string {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.String()
	}
	var b strings.Builder
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		b.WriteString("*.")
		host = rest
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

// codeSpan writes s as a Markdown code span. s must contain no backtick.
func codeSpan(s string) string {
	return "`" + s + "`"
}

// plainText drops backticks and line breaks from administrator-written text
// (catalog hints) so that it stays on one line inside a code span or a
// YAML comment.
func plainText(s string) string {
	s = strings.NewReplacer("`", "'", "\r", " ", "\n", " ").Replace(s)
	if len(s) > 512 {
		s = s[:512]
	}
	return s
}

// catalogName matches a catalog entry name, as the EgressPolicy CRD
// validates it.
var catalogName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// dnsName matches a host that can go into a suggested egress.yaml as it is.
var dnsName = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

func (d destinationView) reported() bool {
	return d.Verdict != VerdictAllowed
}

func (d destinationView) endpoint() string {
	host := escapeHost(d.Host)
	if ip, err := netip.ParseAddr(d.Host); err == nil && ip.Is6() {
		host = "[" + host + "]"
	}
	if d.Port == 0 {
		return host
	}
	return host + ":" + strconv.FormatUint(uint64(d.Port), 10)
}

// renderCheckRun builds the check run for a report view.
func renderCheckRun(v reportView) CheckRun {
	name := v.Job.Name
	if len(name) > maxJobNameLength {
		name = name[:maxJobNameLength]
	}
	run := CheckRun{
		Name:       checkRunNamePrefix + name,
		HeadSHA:    v.HeadSHA,
		ExternalID: externalID(v.Job),
		Status:     StatusInProgress,
		Title:      renderTitle(v),
		Summary:    truncateText(renderSummary(v)),
	}
	if v.audit() {
		run.Text = truncateText(renderSnippet(v))
	}
	if v.Final {
		run.Status = StatusCompleted
		run.Conclusion = ConclusionNeutral
		if !v.audit() && v.blockedCount() > 0 {
			run.Conclusion = ConclusionFailure
		}
	}

	path := v.Job.WorkflowPath()
	if path == "" {
		// NOTE: without a workflow file in the ref, GitHub has no file to
		// place annotations on; the summary table still lists everything.
		return run
	}
	for _, i := range v.NewAnnotations {
		run.Annotations = append(run.Annotations, renderAnnotation(v, v.Destinations[i], path))
	}
	return run
}

// externalID identifies the job's check run, so that a restart or a second
// replica updates the same run instead of creating another.
func externalID(job Job) string {
	return "arc-lockdown/egress/" + job.Repository + "/" + strconv.FormatInt(job.WorkflowRunID, 10) + "/" + job.JobID
}

func (v reportView) audit() bool {
	return v.ProfileKnown && v.Profile.Mode == egressv1alpha1.ModeAudit
}

func (v reportView) blockedCount() int {
	n := 0
	for _, d := range v.Destinations {
		if d.Verdict == VerdictBlocked || d.Verdict == VerdictDenied {
			n++
		}
	}
	return n
}

func (v reportView) reportedCount() int {
	n := 0
	for _, d := range v.Destinations {
		if d.reported() {
			n++
		}
	}
	return n
}

func renderTitle(v reportView) string {
	n := v.reportedCount()
	noun := "destinations"
	if n == 1 {
		noun = "destination"
	}
	if v.audit() {
		return fmt.Sprintf("%d %s would be blocked (audit mode)", n, noun)
	}
	return fmt.Sprintf("%d %s blocked", n, noun)
}

func renderSummary(v reportView) string {
	var b strings.Builder
	mode := "enforce"
	if v.audit() {
		mode = "audit"
	} else if !v.ProfileKnown {
		mode = "unknown"
	}
	fmt.Fprintf(&b, "Egress of this job outside the runner's profile (mode: %s, scale set %s/%s).\n\n",
		mode, escapeHost(v.Job.ScaleSetNamespace), escapeHost(v.Job.ScaleSet))
	b.WriteString("| Destination | Port | Result | Connections | First seen (UTC) |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, d := range v.Destinations {
		if !d.reported() {
			continue
		}
		host := codeSpan(escapeHost(d.Host))
		if d.HostSource == HostFromOriginalDestination {
			host += " (IP address only)"
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %d | %s |\n", host, d.Port, d.Verdict, d.Count, d.FirstSeen.UTC().Format(time.DateTime))
	}
	if v.DroppedDestinations > 0 {
		fmt.Fprintf(&b, "\n%d more connections went to destinations not listed: the limit is %d destinations per job.\n",
			v.DroppedDestinations, v.MaxDestinations)
	}

	var mirrors []string
	for _, d := range v.Destinations {
		if !d.reported() {
			continue
		}
		if entry, ok := mirrorFor(d.Host, v.Profile.Catalog); ok {
			line := fmt.Sprintf("- %s: use the mirror %s", codeSpan(escapeHost(d.Host)), codeSpan(escapeHost(entry.Name)))
			if entry.Hint != "" {
				line += ": " + codeSpan(plainText(entry.Hint))
			}
			mirrors = append(mirrors, line)
		}
	}
	if len(mirrors) > 0 {
		b.WriteString("\n### Mirrors to use instead\n\n")
		b.WriteString(strings.Join(mirrors, "\n"))
		b.WriteString("\n")
	}
	if hasIPOnly(v.Destinations) {
		b.WriteString("\nA destination marked \"IP address only\" sent no TLS server name or HTTP host, so only its IP address is known.\n")
	}
	return b.String()
}

func hasIPOnly(dests []destinationView) bool {
	for _, d := range dests {
		if d.reported() && d.HostSource == HostFromOriginalDestination {
			return true
		}
	}
	return false
}

func renderAnnotation(v reportView, d destinationView, path string) Annotation {
	a := Annotation{Path: path, StartLine: 1, EndLine: 1}
	switch d.Verdict {
	case VerdictBlocked:
		a.Level = LevelFailure
		a.Title = "Egress blocked: " + d.endpoint()
	case VerdictDenied:
		a.Level = LevelFailure
		a.Title = "Egress denied at the gateway: " + d.endpoint()
	default:
		a.Level = LevelWarning
		a.Title = "Egress would be blocked: " + d.endpoint()
	}

	var msg strings.Builder
	fmt.Fprintf(&msg, "%s %s, %d connection(s) so far, first seen %s.", d.endpoint(), d.Verdict, d.Count, d.FirstSeen.UTC().Format(time.RFC3339))
	if d.HostSource == HostFromOriginalDestination {
		msg.WriteString(" Only the destination IP address is known: the connection sent no TLS server name or HTTP host.")
	}
	if d.Verdict == VerdictDenied && d.Policy != "" {
		fmt.Fprintf(&msg, " Policy: %s.", escapeHost(d.Policy))
	}
	if entry, ok := mirrorFor(d.Host, v.Profile.Catalog); ok {
		fmt.Fprintf(&msg, " Use the mirror %s instead", escapeHost(entry.Name))
		if entry.Hint != "" {
			fmt.Fprintf(&msg, ": %s", plainText(entry.Hint))
		}
		msg.WriteString(".")
	} else {
		msg.WriteString(" Add it to .github/egress.yaml if the job needs it.")
	}
	a.Message = msg.String()
	return a
}

// renderSnippet suggests a .github/egress.yaml that allows everything the
// job used, naming catalog entries where one covers or replaces a host.
func renderSnippet(v reportView) string {
	names := map[string]string{} // catalog name → comment
	hosts := map[string][]uint32{}
	var skipped []string
	for _, d := range v.Destinations {
		if entry, ok := mirrorFor(d.Host, v.Profile.Catalog); ok {
			names[entry.Name] = "replaces " + escapeHost(d.Host)
			continue
		}
		if name, ok := catalogNameFor(d.Host, v.Profile.Catalog); ok {
			if _, seen := names[name]; !seen {
				names[name] = ""
			}
			continue
		}
		if !dnsName.MatchString(d.Host) {
			skipped = append(skipped, d.endpoint())
			continue
		}
		hosts[d.Host] = appendPort(hosts[d.Host], d.Port)
	}

	var b strings.Builder
	b.WriteString("Suggested `.github/egress.yaml` covering every destination this job used:\n\n```yaml\nversion: 1\nmode: audit\nallow:\n")
	for _, name := range sortedKeys(names) {
		if !catalogName.MatchString(name) {
			continue
		}
		b.WriteString("  - " + name)
		if comment := names[name]; comment != "" {
			b.WriteString("  # " + comment)
		}
		b.WriteString("\n")
	}
	for _, host := range sortedKeys(hosts) {
		ports := hosts[host]
		if len(ports) == 1 && ports[0] == 443 {
			fmt.Fprintf(&b, "  - host: %s\n", host)
			continue
		}
		texts := make([]string, len(ports))
		for i, p := range ports {
			texts[i] = strconv.FormatUint(uint64(p), 10)
		}
		fmt.Fprintf(&b, "  - host: %s\n    ports: [%s]\n", host, strings.Join(texts, ", "))
	}
	b.WriteString("```\n\nSwitch `mode` to `enforce` once the job passes with it.\n")
	if len(skipped) > 0 {
		b.WriteString("\nLeft out because they are not host names (an IP address, or a name that is not valid DNS): ")
		for i, s := range skipped {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(codeSpan(s))
		}
		b.WriteString(".\n")
	}
	return b.String()
}

func appendPort(ports []uint32, port uint32) []uint32 {
	if port == 0 {
		port = 443
	}
	for _, p := range ports {
		if p == port {
			return ports
		}
	}
	ports = append(ports, port)
	sort.Slice(ports, func(i, j int) bool { return ports[i] < ports[j] })
	return ports
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func truncateText(s string) string {
	if len(s) <= maxCheckRunText {
		return s
	}
	const marker = "\n\n(cut at GitHub's limit of 65,535 characters)\n"
	return s[:maxCheckRunText-len(marker)] + marker
}
