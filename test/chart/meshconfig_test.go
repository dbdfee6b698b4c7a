package chart

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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

// TestMeshConfigDefaultsMatchLockdown checks that the default values,
// installed as release arc-lockdown in arc-lockdown-system, render the same
// mesh options as lockdown.DefaultMeshOptions.
func TestMeshConfigDefaultsMatchLockdown(t *testing.T) {
	got := renderedMeshOptions(t, map[string]any{}, releaseName+"-mesh")

	want := lockdown.DefaultMeshOptions()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("default mesh options differ from lockdown.DefaultMeshOptions():\n  chart:    %+v\n  lockdown: %+v", got, want)
	}
	if !got.AccessLogEnabled() {
		t.Error("default mesh options name no access-log receiver")
	}
}

// TestMeshConfigAccessLogMatchesRelease checks that the access-log options
// name the objects this release creates: the Service, its namespace, the
// Deployment's pod labels and its access-log container port.
func TestMeshConfigAccessLogMatchesRelease(t *testing.T) {
	for _, tt := range []struct {
		name   string
		values map[string]any
		prefix string
	}{
		{"default values", map[string]any{}, releaseName},
		{"full example", readValues(t, "full-values.yaml"), "lockdown"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mesh := renderedMeshOptions(t, tt.values, tt.prefix+"-mesh")
			list := objects(t, mustRender(t, loadChart(t), tt.values).Manifest)

			service := findObject(t, list, "Service", tt.prefix+"-access-log")
			if want := service.GetName() + "." + service.GetNamespace() + ".svc."; !strings.HasPrefix(mesh.AccessLogServiceHost, want) {
				t.Errorf("AccessLogServiceHost = %q, want it to start with %q", mesh.AccessLogServiceHost, want)
			}
			if mesh.AccessLogNamespace != service.GetNamespace() {
				t.Errorf("AccessLogNamespace = %q, want the Service's namespace %q", mesh.AccessLogNamespace, service.GetNamespace())
			}

			deployment := findObject(t, list, "Deployment", tt.prefix)
			podLabels, _, err := unstructured.NestedStringMap(deployment.Object, "spec", "template", "metadata", "labels")
			if err != nil {
				t.Fatalf("Deployment pod labels: %v", err)
			}
			for key, value := range mesh.AccessLogLabels {
				if podLabels[key] != value {
					t.Errorf("AccessLogLabels %s=%s does not match the controller pod label %s=%q", key, value, key, podLabels[key])
				}
			}
			if !hasContainerPort(t, deployment, "grpc-access-log", mesh.AccessLogPort) {
				t.Errorf("AccessLogPort %d is not the controller's grpc-access-log container port", mesh.AccessLogPort)
			}
		})
	}
}

// hasContainerPort reports whether a container of the Deployment declares
// the named port with that number.
func hasContainerPort(t *testing.T, deployment *unstructured.Unstructured, name string, port int32) bool {
	t.Helper()
	containers, _, err := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "containers")
	if err != nil {
		t.Fatalf("Deployment containers: %v", err)
	}
	for _, container := range containers {
		fields, ok := container.(map[string]any)
		if !ok {
			t.Fatalf("Deployment container is a %T, want an object", container)
		}
		ports, _, _ := unstructured.NestedSlice(fields, "ports")
		for _, p := range ports {
			entry, ok := p.(map[string]any)
			if !ok {
				t.Fatalf("Deployment container port is a %T, want an object", p)
			}
			// The manifest decoder stores JSON numbers as float64.
			number, _ := entry["containerPort"].(float64)
			if entry["name"] == name && number == float64(port) {
				return true
			}
		}
	}
	return false
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
		AccessLogNamespace:       releaseNamespace,
		AccessLogLabels: map[string]string{
			"app.kubernetes.io/name":      "arc-lockdown",
			"app.kubernetes.io/instance":  releaseName,
			"app.kubernetes.io/component": "controller",
		},
		AccessLogPort:        9977,
		AccessLogServiceHost: "lockdown-access-log." + releaseNamespace + ".svc.corp.local",
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
