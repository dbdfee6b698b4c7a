package demo

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// printScaleSets prints one table row per scale set, then per scale set its
// conditions that are not true, dropped entries, warnings and objects.
func (r *run) printScaleSets() {
	fmt.Fprintln(r.Out, "\n=== Scale sets (kubectl get scalesetegresses -n arc-runners) ===")
	w := tabwriter.NewWriter(r.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tMODE\tCONTAINER MODE\tDESTINATIONS\tSOURCE\tREADY")
	for _, s := range samples {
		sse := r.result.ScaleSets[s.scaleSet]
		ready := "Unknown"
		if c := meta.FindStatusCondition(sse.Status.Conditions, egressv1alpha1.ConditionReady); c != nil {
			ready = string(c.Status)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", s.scaleSet, sse.Status.Mode, sse.Status.ContainerMode,
			sse.Status.Destinations, sse.Status.Source, ready)
	}
	_ = w.Flush()

	for _, s := range samples {
		sse := r.result.ScaleSets[s.scaleSet]
		fmt.Fprintf(r.Out, "\n--- %s (%s: %s) ---\n", s.scaleSet, s.repository, s.describe)
		for _, c := range sse.Status.Conditions {
			if c.Status != metav1.ConditionTrue {
				fmt.Fprintf(r.Out, "  condition %s=%s (%s):\n%s\n", c.Type, c.Status, c.Reason, indent(c.Message, "    "))
			}
		}
		for _, d := range sse.Status.Dropped {
			fmt.Fprintf(r.Out, "  dropped %q (line %d): %s\n", d.Entry, d.Line, d.Reason)
		}
		for _, warning := range sse.Status.Warnings {
			fmt.Fprintf(r.Out, "  warning %s: %s\n", warning.Reason, warning.Message)
		}
		fmt.Fprintf(r.Out, "  hosts: %s\n", strings.Join(sse.Status.Hosts, ", "))
		printObjects(r.Out, r.result.Objects[s.scaleSet])
	}
}

// printCheckRun prints the job's check run the way GitHub lays it out: name
// and conclusion, title, summary, details and the annotations on the file.
func (r *run) printCheckRun() {
	run := r.result.CheckRun
	fmt.Fprintf(r.Out, "\n=== GitHub check run on %s@%.7s ===\n", run.Repository, run.HeadSHA)
	fmt.Fprintf(r.Out, "%s: %s (%s)\n", run.Name, run.Conclusion, run.Status)
	fmt.Fprintf(r.Out, "\n# %s\n\n%s\n", run.Title, strings.TrimSpace(run.Summary))
	if strings.TrimSpace(run.Text) != "" {
		fmt.Fprintf(r.Out, "\n%s\n", strings.TrimSpace(run.Text))
	}
	fmt.Fprintf(r.Out, "\nAnnotations (%d):\n", len(run.Annotations))
	for _, a := range run.Annotations {
		fmt.Fprintf(r.Out, "  %s line %d  [%s] %s\n%s\n", a.Path, a.StartLine, a.Level, a.Title, indent(a.Message, "      "))
	}
}

// printObjects prints the applied objects grouped by kind: the count of
// each kind, and the names of the kinds with one or two objects.
func printObjects(out io.Writer, objects []string) {
	fmt.Fprintf(out, "  objects applied (%d):\n", len(objects))
	byKind := map[string][]string{}
	var kinds []string
	for _, object := range objects {
		kind, name, _ := strings.Cut(object, "/")
		if _, seen := byKind[kind]; !seen {
			kinds = append(kinds, kind)
		}
		byKind[kind] = append(byKind[kind], name)
	}
	for _, kind := range kinds {
		names := byKind[kind]
		if len(names) <= 2 {
			fmt.Fprintf(out, "    %-20s %s\n", kind, strings.Join(names, ", "))
			continue
		}
		fmt.Fprintf(out, "    %-20s %d objects, one per destination\n", kind, len(names))
	}
}
