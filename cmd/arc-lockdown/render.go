package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"strings"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
)

func init() {
	commands["render"] = command{
		summary: "Print the objects that lock down one scale set, like helm template",
		run:     runRender,
	}
}

// Exit codes of the render command.
const (
	exitRendered      = 0
	exitConfigInvalid = 1
	exitRenderUsage   = 2
)

// renderOptions are the flags of the render command.
type renderOptions struct {
	scaleSetFile   string
	configFile     string
	policyFile     string
	apiServerCIDRs string
	dnsExtraPort   int
}

func runRender(args []string, stdout, stderr io.Writer) int {
	opts, code, ok := parseRenderFlags(args, stderr)
	if !ok {
		return code
	}

	out, code, err := renderScaleSet(opts, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "arc-lockdown render: %v\n", err)
		return code
	}
	if err := lockdown.WriteYAML(stdout, out); err != nil {
		fmt.Fprintf(stderr, "arc-lockdown render: write YAML: %v\n", err)
		return exitRenderUsage
	}
	return exitRendered
}

func parseRenderFlags(args []string, stderr io.Writer) (renderOptions, int, bool) {
	var opts renderOptions
	flags := flag.NewFlagSet("render", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.StringVar(&opts.scaleSetFile, "scale-set", "", "YAML `FILE` holding one AutoscalingRunnerSet, for example what helm template prints for ARC's gha-runner-scale-set chart; other objects in the file are ignored")
	flags.StringVar(&opts.configFile, "config", "", "the repository's .github/egress.yaml. Without it, the profile of a repository without the file is rendered.")
	flags.StringVar(&opts.policyFile, "policy", "", "EgressPolicy manifest (YAML) that bounds the file. Without it, the default policy applies: GitHub's runner endpoints as baseline and the public registries denied.")
	flags.StringVar(&opts.apiServerCIDRs, "api-server-cidrs", "", "comma-separated addresses of the kubernetes Service's endpoints, which runner pods in kubernetes container mode must reach, for example 10.0.0.1/32")
	flags.IntVar(&opts.dnsExtraPort, "dns-extra-port", 0, "pod port of the cluster DNS pods besides 53, for example 8053; 0 for none")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "Usage: arc-lockdown render --scale-set FILE [--config FILE] [--policy FILE]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Prints the NetworkPolicies and Istio objects for one scale set as YAML documents,")
		fmt.Fprintln(stderr, "with the container mode and warnings as comments at the top. Entries the policy drops")
		fmt.Fprintln(stderr, "are printed on stderr. Exit code 0 means rendered, 1 means the config file is invalid,")
		fmt.Fprintln(stderr, "2 means the command line, the scale set or the policy is invalid.")
		fmt.Fprintln(stderr)
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return opts, exitRendered, false
		}
		return opts, exitRenderUsage, false
	}
	if opts.scaleSetFile == "" {
		fmt.Fprintln(stderr, "arc-lockdown render: --scale-set is required")
		flags.Usage()
		return opts, exitRenderUsage, false
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "arc-lockdown render: unexpected arguments %v: pass files with --scale-set, --config and --policy\n", flags.Args())
		return opts, exitRenderUsage, false
	}
	return opts, exitRendered, true
}

// renderScaleSet reads the inputs, bounds the config by the policy and
// renders. It returns the exit code that goes with a non-nil error.
func renderScaleSet(opts renderOptions, stderr io.Writer) (lockdown.Rendered, int, error) {
	ars, err := readScaleSet(opts.scaleSetFile)
	if err != nil {
		return lockdown.Rendered{}, exitRenderUsage, err
	}

	policy := lockdown.DefaultPolicySpec()
	if opts.policyFile != "" {
		spec, err := readPolicy(opts.policyFile)
		if err != nil {
			return lockdown.Rendered{}, exitRenderUsage, err
		}
		policy = *spec
	}

	var cfg *lockdown.Config
	if opts.configFile != "" {
		data, err := os.ReadFile(opts.configFile)
		if err != nil {
			return lockdown.Rendered{}, exitRenderUsage, fmt.Errorf("read config: %w", err)
		}
		cfg, err = lockdown.ParseConfig(opts.configFile, data, &policy)
		if err != nil {
			return lockdown.Rendered{}, exitConfigInvalid, fmt.Errorf("config %s is invalid:\n%w", opts.configFile, err)
		}
	}

	githubHost, err := githubHostOf(ars)
	if err != nil {
		return lockdown.Rendered{}, exitRenderUsage, err
	}
	profile := lockdown.EffectiveProfile(&policy, cfg, githubHost)
	for _, dropped := range profile.Dropped {
		fmt.Fprintf(stderr, "%s:%d:%d: dropped %q: %s\n", opts.configFile, dropped.Line, dropped.Column, dropped.Entry, dropped.Reason)
	}

	mesh := lockdown.DefaultMeshOptions()
	if opts.dnsExtraPort < 0 || opts.dnsExtraPort > 65535 {
		return lockdown.Rendered{}, exitRenderUsage, fmt.Errorf("--dns-extra-port %d is out of range: use a port in 1-65535, or 0 for none", opts.dnsExtraPort)
	}
	mesh.DNSExtraPort = int32(opts.dnsExtraPort)
	if opts.apiServerCIDRs != "" {
		mesh.APIServerCIDRs = strings.Split(opts.apiServerCIDRs, ",")
		for _, cidr := range mesh.APIServerCIDRs {
			if _, err := netip.ParsePrefix(cidr); err != nil {
				return lockdown.Rendered{}, exitRenderUsage, fmt.Errorf("--api-server-cidrs contains %q, which is not a CIDR range: write an address with its prefix length, for example 10.0.0.1/32", cidr)
			}
		}
	}
	out, err := lockdown.Render(lockdown.ScaleSetFromARS(ars), profile, mesh)
	if err != nil {
		return lockdown.Rendered{}, exitRenderUsage, fmt.Errorf("render %s/%s: %w", ars.Namespace, ars.Name, err)
	}
	return out, exitRendered, nil
}

// readScaleSet returns the one AutoscalingRunnerSet of a multi-document
// YAML file.
func readScaleSet(path string) (*actionsv1alpha1.AutoscalingRunnerSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scale set: %w", err)
	}

	var found []map[string]any
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var content map[string]any
		if err := decoder.Decode(&content); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("decode %s: %w", path, err)
		}
		if content["kind"] == "AutoscalingRunnerSet" && content["apiVersion"] == actionsv1alpha1.GroupVersion.String() {
			found = append(found, content)
		}
	}

	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%s contains no AutoscalingRunnerSet (apiVersion %s): pass the file that defines the scale set", path, actionsv1alpha1.GroupVersion)
	case 1:
	default:
		return nil, fmt.Errorf("%s contains %d AutoscalingRunnerSets: split the file so that it contains one", path, len(found))
	}

	var ars actionsv1alpha1.AutoscalingRunnerSet
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(found[0], &ars); err != nil {
		return nil, fmt.Errorf("decode AutoscalingRunnerSet in %s: %w", path, err)
	}
	if ars.Namespace == "" {
		return nil, fmt.Errorf("AutoscalingRunnerSet %s in %s has no metadata.namespace: set the namespace it runs in", ars.Name, path)
	}
	return &ars, nil
}

// githubHostOf returns the host of spec.githubConfigUrl, which the profile
// adds to the baseline.
func githubHostOf(ars *actionsv1alpha1.AutoscalingRunnerSet) (string, error) {
	u, err := url.Parse(ars.Spec.GitHubConfigUrl)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("AutoscalingRunnerSet %s/%s has githubConfigUrl %q, want a URL such as https://github.com/org", ars.Namespace, ars.Name, ars.Spec.GitHubConfigUrl)
	}
	return strings.ToLower(u.Hostname()), nil
}
