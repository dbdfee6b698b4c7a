package chart

import (
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
)

// renderedMeshOptions decodes the rendered --mesh-config file the way the
// controller does: strictly, into lockdown.MeshOptions. It starts from the
// zero value instead of the defaults, so a field the chart leaves out shows.
func renderedMeshOptions(t *testing.T, values map[string]any, configMapName string) lockdown.MeshOptions {
	t.Helper()
	list := objects(t, mustRender(t, loadChart(t), values).Manifest)
	configMap := findObject(t, list, "ConfigMap", configMapName)
	data, found, err := unstructuredString(configMap.Object, "data", "mesh.yaml")
	if err != nil || !found {
		t.Fatalf("ConfigMap %s has no data.mesh.yaml: %v", configMapName, err)
	}
	var mesh lockdown.MeshOptions
	if err := yaml.UnmarshalStrict([]byte(data), &mesh); err != nil {
		t.Fatalf("decode mesh.yaml as lockdown.MeshOptions: %v\n%s", err, data)
	}
	if err := mesh.Validate(); err != nil {
		t.Errorf("mesh.yaml is not valid: %v", err)
	}
	return mesh
}

// TestMeshConfigDefaultsMatchLockdown checks that the default values render
// the same mesh options as lockdown.DefaultMeshOptions.
func TestMeshConfigDefaultsMatchLockdown(t *testing.T) {
	got := renderedMeshOptions(t, map[string]any{}, releaseName+"-mesh")

	want := lockdown.DefaultMeshOptions()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("default mesh options differ from lockdown.DefaultMeshOptions():\n  chart:    %+v\n  lockdown: %+v", got, want)
	}
}

// TestMeshConfigFullExample checks the full example's mesh options field by
// field, and that it sets every field, so that a field added to
// lockdown.MeshOptions without a chart value fails here.
func TestMeshConfigFullExample(t *testing.T) {
	got := renderedMeshOptions(t, readValues(t, "full-values.yaml"), "lockdown-mesh")

	want := lockdown.MeshOptions{
		EgressGatewayNamespace:   "istio-egress",
		EgressGatewayLabels:      map[string]string{"istio": "egressgateway", "app": "istio-egressgateway"},
		EgressGatewayServiceHost: "egress-gateway.istio-egress.svc.corp.local",
		EgressGatewayTLSPort:     8443,
		EgressGatewayHTTPPort:    8080,
		IstiodNamespace:          "istio-system",
		IstiodLabels:             map[string]string{"app": "istiod"},
		IstiodPort:               15012,
		DNSNamespace:             "kube-system",
		DNSLabels:                map[string]string{"k8s-app": "kube-dns"},
		DNSExtraPort:             8053,
		APIServerCIDRs:           []string{"10.0.0.10/32", "10.0.0.11/32"},
		APIServerPorts:           []int32{6443},
		APIServerHost:            "kubernetes.default.svc.corp.local",
		TrustDomain:              "corp.example.com",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("full example mesh options:\n  got:  %+v\n  want: %+v", got, want)
	}

	fields := reflect.ValueOf(got)
	for i := range fields.NumField() {
		if fields.Field(i).IsZero() {
			t.Errorf("the chart does not set lockdown.MeshOptions.%s: add a value for it", fields.Type().Field(i).Name)
		}
	}
}
