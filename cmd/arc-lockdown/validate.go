package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"sigs.k8s.io/yaml"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

func init() {
	commands["validate"] = command{
		summary: "Check .github/egress.yaml files, optionally against an EgressPolicy",
		run:     runValidate,
	}
}

// Exit codes of the validate command.
const (
	exitValid   = 0
	exitInvalid = 1
	exitUsage   = 2
)

func runValidate(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("validate", flag.ContinueOnError)
	flags.SetOutput(stderr)
	policyFile := flags.String("policy", "", "EgressPolicy manifest (YAML) to check the files against. Without it, catalog names are checked for syntax only, IP addresses are rejected and the default deny list applies.")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "Usage: arc-lockdown validate [--policy FILE] FILE...")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Checks each .github/egress.yaml file and prints every problem as file:line:column.")
		fmt.Fprintln(stderr, "Entries the policy would drop are printed as warnings. Exit code 0 means valid,")
		fmt.Fprintln(stderr, "1 means at least one file has an error, 2 means the command line, a file path or the policy is invalid.")
		fmt.Fprintln(stderr)
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitValid
		}
		return exitUsage
	}
	files := flags.Args()
	if len(files) == 0 {
		fmt.Fprintln(stderr, "arc-lockdown validate: no file given; pass the path of at least one .github/egress.yaml")
		flags.Usage()
		return exitUsage
	}

	for _, file := range files {
		if err := checkRegularFile(file); err != nil {
			fmt.Fprintf(stderr, "arc-lockdown validate: %v\n", err)
			return exitUsage
		}
	}

	var policy *egressv1alpha1.EgressPolicySpec
	if *policyFile != "" {
		spec, err := readPolicy(*policyFile)
		if err != nil {
			fmt.Fprintf(stderr, "arc-lockdown validate: %v\n", err)
			return exitUsage
		}
		policy = spec
	}

	var errorCount, warningCount int
	for _, file := range files {
		errs, warnings := validateFile(file, policy, stdout)
		errorCount += errs
		warningCount += warnings
	}
	fmt.Fprintf(stdout, "%s checked: %s, %s\n", plural(len(files), "file"), plural(errorCount, "error"), plural(warningCount, "warning"))
	if policy == nil {
		fmt.Fprintln(stdout, "note: without --policy only the format and the default deny list were checked, not your cluster's catalog names, allowedHosts or allowedCIDRs; pass the EgressPolicy (kubectl get egresspolicy NAME -o yaml) to see what it would drop")
	}
	if errorCount > 0 {
		return exitInvalid
	}
	return exitValid
}

// validateFile checks one file, prints its problems and warnings, and
// returns how many of each it printed.
func validateFile(file string, policy *egressv1alpha1.EgressPolicySpec, stdout io.Writer) (errs, warnings int) {
	data, err := readBounded(file, lockdown.MaxConfigSize)
	if err != nil {
		fmt.Fprintf(stdout, "%s: %v\n", file, err)
		return 1, 0
	}

	dropped, err := lockdown.CheckConfig(file, data, policy)
	var configErr *lockdown.ConfigError
	switch {
	case errors.As(err, &configErr):
		for _, problem := range configErr.Problems {
			fmt.Fprintln(stdout, problem.String())
		}
		errs = len(configErr.Problems)
	case err != nil:
		fmt.Fprintf(stdout, "%s: %v\n", file, err)
		errs = 1
	}
	for _, entry := range dropped {
		position := file
		if entry.Line > 0 {
			position = fmt.Sprintf("%s:%d:%d", file, entry.Line, entry.Column)
		}
		fmt.Fprintf(stdout, "%s: warning: %s (entry %q)\n", position, entry.Reason, entry.Entry)
	}
	return errs, len(dropped)
}

// readBounded reads a file of at most limit bytes. A larger file is an
// error that names the limit, without reading the rest of it.
func readBounded(path string, limit int) ([]byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer func() { _ = file.Close() }()

	data, err := io.ReadAll(io.LimitReader(file, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(data) > limit {
		return nil, fmt.Errorf("1:1: file is larger than the maximum of %d bytes; list fewer entries", limit)
	}
	return data, nil
}

// readPolicy decodes an EgressPolicy manifest strictly: unknown fields and
// duplicate keys are errors.
func readPolicy(path string) (*egressv1alpha1.EgressPolicySpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	var policy egressv1alpha1.EgressPolicy
	if err := yaml.UnmarshalStrict(data, &policy); err != nil {
		return nil, fmt.Errorf("decode policy %s: %w", path, err)
	}
	wantAPIVersion := egressv1alpha1.GroupVersion.String()
	if policy.APIVersion != wantAPIVersion || policy.Kind != "EgressPolicy" {
		return nil, fmt.Errorf("policy %s is apiVersion %q kind %q, want apiVersion %q kind \"EgressPolicy\"", path, policy.APIVersion, policy.Kind, wantAPIVersion)
	}
	return &policy.Spec, nil
}

// plural returns "1 file" or "3 files".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// checkRegularFile returns an error naming the path when it is missing or
// is not a regular file, so that a mistyped argument is a usage error.
func checkRegularFile(path string) error {
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: file not found; pass the path of a .github/egress.yaml file", path)
	}
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file; pass the path of a .github/egress.yaml file", path)
	}
	return nil
}
