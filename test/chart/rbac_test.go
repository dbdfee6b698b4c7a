package chart

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// roleFile is the chart file that `make manifests` generates from the
// controller's kubebuilder RBAC markers.
const roleFile = "files/role.yaml"

// generatedRules are the rules of one role.yaml, split by scope.
type generatedRules struct {
	// Cluster holds the rules of the ClusterRole documents.
	Cluster []rbacv1.PolicyRule
	// Namespaced holds the rules of the Role documents, which the chart
	// grants in the release namespace.
	Namespaced []rbacv1.PolicyRule
}

// parseRoleFile parses the documents of a controller-gen RBAC file.
func parseRoleFile(data []byte) (generatedRules, error) {
	var rules generatedRules
	decoder := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(string(data)), 4096)
	for index := 1; ; index++ {
		var document struct {
			Kind  string              `json:"kind"`
			Rules []rbacv1.PolicyRule `json:"rules"`
		}
		err := decoder.Decode(&document)
		if errors.Is(err, io.EOF) {
			return rules, nil
		}
		if err != nil {
			return rules, fmt.Errorf("document %d: %w", index, err)
		}
		switch document.Kind {
		case "":
			// An empty document: controller-gen writes none when no
			// controller declares RBAC markers yet.
		case "ClusterRole":
			rules.Cluster = append(rules.Cluster, document.Rules...)
		case "Role":
			rules.Namespaced = append(rules.Namespaced, document.Rules...)
		default:
			return rules, fmt.Errorf("document %d: kind %q, expected ClusterRole or Role", index, document.Kind)
		}
	}
}

// renderedRules returns the rules of the chart's ClusterRole and Role.
func renderedRules(t *testing.T, ch *chartv2.Chart) generatedRules {
	t.Helper()
	list := objects(t, mustRender(t, ch, map[string]any{}).Manifest)
	var rules generatedRules
	for kind, target := range map[string]*[]rbacv1.PolicyRule{"ClusterRole": &rules.Cluster, "Role": &rules.Namespaced} {
		object := findObject(t, list, kind, releaseName)
		var role struct {
			Rules []rbacv1.PolicyRule `json:"rules"`
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(object.Object, &role); err != nil {
			t.Fatalf("decode rendered %s: %v", kind, err)
		}
		*target = role.Rules
	}
	return rules
}

// compareRules returns one line per difference between the chart's rules
// and the generated ones, in order.
func compareRules(scope string, chart, generated []rbacv1.PolicyRule) []string {
	var differences []string
	for i := 0; i < len(chart) || i < len(generated); i++ {
		switch {
		case i >= len(chart):
			differences = append(differences, fmt.Sprintf("%s rule %d is generated but missing from the chart: %s", scope, i, generated[i].String()))
		case i >= len(generated):
			differences = append(differences, fmt.Sprintf("%s rule %d is in the chart but not generated: %s", scope, i, chart[i].String()))
		case !reflect.DeepEqual(normalizeRule(chart[i]), normalizeRule(generated[i])):
			differences = append(differences, fmt.Sprintf("%s rule %d differs:\n  chart:     %s\n  generated: %s", scope, i, chart[i].String(), generated[i].String()))
		}
	}
	return differences
}

// normalizeRule treats an empty list and a missing list alike.
func normalizeRule(rule rbacv1.PolicyRule) rbacv1.PolicyRule {
	for _, list := range []*[]string{&rule.APIGroups, &rule.Resources, &rule.ResourceNames, &rule.NonResourceURLs, &rule.Verbs} {
		if len(*list) == 0 {
			*list = nil
		}
	}
	return rule
}

// withRoleFile returns ch with files/role.yaml replaced by data.
func withRoleFile(t *testing.T, ch *chartv2.Chart, data []byte) *chartv2.Chart {
	t.Helper()
	var files []*common.File
	found := false
	for _, file := range ch.Files {
		if file.Name == roleFile {
			file = &common.File{Name: roleFile, ModTime: file.ModTime, Data: data}
			found = true
		}
		files = append(files, file)
	}
	if !found {
		t.Fatalf("chart has no %s", roleFile)
	}
	copied := *ch
	copied.Files = files
	return &copied
}

// TestRBACMatchesGeneratedRules checks that the chart's ClusterRole holds
// exactly the ClusterRole rules of charts/arc-lockdown/files/role.yaml and
// its Role exactly the Role rules, in the same order, so that an install
// grants every permission the controller's markers declare and no other.
func TestRBACMatchesGeneratedRules(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir(t), roleFile))
	if err != nil {
		t.Fatal(err)
	}
	generated, err := parseRoleFile(data)
	if err != nil {
		t.Fatalf("parse %s: %v", roleFile, err)
	}

	chart := renderedRules(t, loadChart(t))

	for _, difference := range compareRules("ClusterRole", chart.Cluster, generated.Cluster) {
		t.Error(difference)
	}
	for _, difference := range compareRules("Role", chart.Namespaced, generated.Namespaced) {
		t.Error(difference)
	}
}

// TestRBACFollowsRoleFile replaces files/role.yaml with a fixture and
// checks that the rendered roles change with it, so the comparison above
// cannot pass because both sides are empty.
func TestRBACFollowsRoleFile(t *testing.T) {
	fixture, err := os.ReadFile(filepath.Join("testdata", "role-fixture.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	generated, err := parseRoleFile(fixture)
	if err != nil {
		t.Fatalf("parse fixture: %v", err)
	}
	if len(generated.Cluster) == 0 || len(generated.Namespaced) == 0 {
		t.Fatal("the fixture must hold cluster and namespaced rules")
	}

	chart := renderedRules(t, withRoleFile(t, loadChart(t), fixture))

	for _, difference := range compareRules("ClusterRole", chart.Cluster, generated.Cluster) {
		t.Error(difference)
	}
	for _, difference := range compareRules("Role", chart.Namespaced, generated.Namespaced) {
		t.Error(difference)
	}
}

// TestCompareRulesReportsDifferences checks that the comparison reports a
// missing rule, an extra rule and a changed verb.
func TestCompareRulesReportsDifferences(t *testing.T) {
	pods := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}}
	leases := rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get"}}
	podsWithDelete := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch", "delete"}}

	cases := []struct {
		name      string
		chart     []rbacv1.PolicyRule
		generated []rbacv1.PolicyRule
		want      string
	}{
		{name: "missing rule", chart: []rbacv1.PolicyRule{pods}, generated: []rbacv1.PolicyRule{pods, leases}, want: "missing from the chart"},
		{name: "extra rule", chart: []rbacv1.PolicyRule{pods, leases}, generated: []rbacv1.PolicyRule{pods}, want: "in the chart but not generated"},
		{name: "changed verb", chart: []rbacv1.PolicyRule{podsWithDelete}, generated: []rbacv1.PolicyRule{pods}, want: "differs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			differences := compareRules("ClusterRole", tc.chart, tc.generated)
			if len(differences) != 1 {
				t.Fatalf("got %d differences, expected 1: %q", len(differences), differences)
			}
			if !strings.Contains(differences[0], tc.want) {
				t.Errorf("difference %q does not contain %q", differences[0], tc.want)
			}
		})
	}
	if differences := compareRules("ClusterRole", []rbacv1.PolicyRule{pods}, []rbacv1.PolicyRule{pods}); len(differences) != 0 {
		t.Errorf("equal rules reported as different: %q", differences)
	}
}

// TestRBACWithEmptyRoleFile renders the chart with the empty role.yaml that
// `make manifests` writes before any controller declares a marker.
func TestRBACWithEmptyRoleFile(t *testing.T) {
	chart := renderedRules(t, withRoleFile(t, loadChart(t), nil))

	if len(chart.Cluster) != 0 {
		t.Errorf("ClusterRole rules = %v, expected none", chart.Cluster)
	}
	if len(chart.Namespaced) != 0 {
		t.Errorf("Role rules = %v, expected none", chart.Namespaced)
	}
}

// TestRBACRejectsUnexpectedKind checks that a role.yaml document of another
// kind fails the render with a message naming the file and the kind.
func TestRBACRejectsUnexpectedKind(t *testing.T) {
	data := []byte("---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: x\n")

	_, err := render(withRoleFile(t, loadChart(t), data), map[string]any{})

	if err == nil {
		t.Fatal("a RoleBinding in files/role.yaml rendered without an error")
	}
	if !strings.Contains(err.Error(), `files/role.yaml: unexpected kind "RoleBinding"`) {
		t.Errorf("error does not name the file and the kind: %v", err)
	}
}
