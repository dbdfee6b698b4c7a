package lockdown_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	networkingapi "istio.io/api/networking/v1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
	"github.com/arc-lockdown/arc-lockdown/test/envtest"
)

// The -update flag rewrites the golden files. Other test files of this
// package may define the same flag, so it is defined here only when missing.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata")
	}
}

func updateGolden() bool {
	return flag.Lookup("update").Value.String() == "true"
}

// samples are ARC's chart output for the three container modes.
var samples = []struct {
	file           string
	name           string
	containerMode  string
	serviceAccount string
}{
	{"default-repo.yaml", "web-ci", lockdown.ContainerModeDefault, "web-ci-gha-rs-no-permission"},
	{"dind-repo.yaml", "build-dind", lockdown.ContainerModeDind, "build-dind-gha-rs-no-permission"},
	{"kube-mode-repo.yaml", "k8s-mode", lockdown.ContainerModeKubernetes, "k8s-mode-gha-rs-kube-mode"},
}

// testProfile contains exact hosts, a wildcard, an HTTP destination and a
// host reached over both protocols.
func testProfile(mode egressv1alpha1.Mode) lockdown.Profile {
	return lockdown.Profile{
		Mode: mode,
		Destinations: []lockdown.Destination{
			{Host: "*.actions.githubusercontent.com", Ports: []int32{443}, Protocol: egressv1alpha1.ProtocolTLS, Source: lockdown.SourceBaseline},
			{Host: "api.github.com", Ports: []int32{443}, Protocol: egressv1alpha1.ProtocolTLS, Source: lockdown.SourceBaseline},
			{Host: "artifacts.corp.example.com", Ports: []int32{443}, Protocol: egressv1alpha1.ProtocolTLS, Source: lockdown.SourceRepository},
			{Host: "github.com", Ports: []int32{443}, Protocol: egressv1alpha1.ProtocolTLS, Source: lockdown.SourceBaseline},
			{Host: "mirror.corp.example.com", Ports: []int32{80}, Protocol: egressv1alpha1.ProtocolHTTP, Source: lockdown.SourceCatalog, CatalogName: "apt-mirror"},
			{Host: "mirror.corp.example.com", Ports: []int32{443}, Protocol: egressv1alpha1.ProtocolTLS, Source: lockdown.SourceCatalog, CatalogName: "apt-mirror"},
		},
	}
}

// testMesh is the default mesh with a DNS pod port and API server
// addresses, as a cluster with kubernetes-mode runners would set them.
func testMesh() lockdown.MeshOptions {
	mesh := lockdown.DefaultMeshOptions()
	mesh.DNSExtraPort = 8053
	mesh.APIServerCIDRs = []string{"10.0.0.1/32"}
	return mesh
}

// meshWithoutAccessLog is testMesh with the access-log receiver turned off.
func meshWithoutAccessLog() lockdown.MeshOptions {
	mesh := testMesh()
	mesh.AccessLogNamespace = ""
	mesh.AccessLogLabels = nil
	mesh.AccessLogPort = 0
	mesh.AccessLogServiceHost = ""
	return mesh
}

func sampleScaleSet(t *testing.T, file string) lockdown.ScaleSet {
	t.Helper()
	obj := envtest.SampleObject(t, file, "AutoscalingRunnerSet")
	var ars actionsv1alpha1.AutoscalingRunnerSet
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &ars); err != nil {
		t.Fatalf("convert %s: %v", file, err)
	}
	return lockdown.ScaleSetFromARS(&ars)
}

func mustRender(t testing.TB, ss lockdown.ScaleSet, p lockdown.Profile, mesh lockdown.MeshOptions) lockdown.Rendered {
	t.Helper()
	out, err := lockdown.Render(ss, p, mesh)
	if err != nil {
		t.Fatalf("Render(%s/%s): %v", ss.Namespace, ss.Name, err)
	}
	return out
}

func TestRenderSamplesGolden(t *testing.T) {
	for _, sample := range samples {
		for _, mode := range []egressv1alpha1.Mode{egressv1alpha1.ModeEnforce, egressv1alpha1.ModeAudit} {
			t.Run(sample.name+" "+string(mode), func(t *testing.T) {
				ss := sampleScaleSet(t, sample.file)
				out := mustRender(t, ss, testProfile(mode), testMesh())

				var buf bytes.Buffer
				if err := lockdown.WriteYAML(&buf, out); err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", "golden", strings.TrimSuffix(sample.file, ".yaml")+"-"+string(mode)+".yaml")
				if updateGolden() {
					if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("read %s (run with -update to create it): %v", golden, err)
				}
				if !bytes.Equal(buf.Bytes(), want) {
					t.Errorf("rendered YAML differs from %s (run `go test ./lockdown -run TestRenderSamplesGolden -update` and review the diff):\n%s", golden, buf.String())
				}
			})
		}
	}
}

func TestScaleSetFromSamples(t *testing.T) {
	for _, sample := range samples {
		t.Run(sample.name, func(t *testing.T) {
			ss := sampleScaleSet(t, sample.file)
			if ss.Name != sample.name || ss.Namespace != "arc-runners" {
				t.Errorf("scale set = %s/%s, want arc-runners/%s", ss.Namespace, ss.Name, sample.name)
			}
			if ss.ServiceAccountName != sample.serviceAccount {
				t.Errorf("ServiceAccountName = %q, want %q", ss.ServiceAccountName, sample.serviceAccount)
			}
			if got := lockdown.DetectContainerMode(ss.Template); got != sample.containerMode {
				t.Errorf("DetectContainerMode = %q, want %q", got, sample.containerMode)
			}
		})
	}
}

func TestScaleSetFromARSWithoutServiceAccount(t *testing.T) {
	ars := &actionsv1alpha1.AutoscalingRunnerSet{}
	ars.Name, ars.Namespace = "bare", "ci"
	ars.Spec.Template.Spec.Containers = []corev1.Container{{Name: "runner", Image: "ghcr.io/actions/actions-runner:latest"}}

	ss := lockdown.ScaleSetFromARS(ars)
	if ss.ServiceAccountName != lockdown.DefaultServiceAccountName {
		t.Fatalf("ServiceAccountName = %q, want %q", ss.ServiceAccountName, lockdown.DefaultServiceAccountName)
	}
	out := mustRender(t, ss, testProfile(egressv1alpha1.ModeEnforce), testMesh())
	if !hasWarning(out, lockdown.WarningDefaultServiceAccount) {
		t.Errorf("warnings %v lack %s", out.Warnings, lockdown.WarningDefaultServiceAccount)
	}
	ap := findAuthorizationPolicy(t, out)
	if got := ap.Spec.Rules[0].From[0].Source.Principals[0]; got != "cluster.local/ns/ci/sa/default" {
		t.Errorf("principal = %q, want cluster.local/ns/ci/sa/default", got)
	}
}

func TestDetectContainerMode(t *testing.T) {
	tests := []struct {
		name     string
		template corev1.PodTemplateSpec
		want     string
	}{
		{"runner only", podTemplate(nil, corev1.Container{Image: "ghcr.io/actions/actions-runner:latest"}), lockdown.ContainerModeDefault},
		{"dind init sidecar", podTemplate([]corev1.Container{{Image: "docker:dind"}}, corev1.Container{Image: "runner"}), lockdown.ContainerModeDind},
		{"dind regular container with registry and version", podTemplate(nil, corev1.Container{Image: "docker.io/library/docker:27.3-dind-rootless"}), lockdown.ContainerModeDind},
		{"dind image by digest", podTemplate(nil, corev1.Container{Image: "docker:dind@sha256:0123"}), lockdown.ContainerModeDind},
		{"docker cli without dind", podTemplate(nil, corev1.Container{Image: "docker:27-cli"}), lockdown.ContainerModeDefault},
		{"other image tagged dind", podTemplate(nil, corev1.Container{Image: "example.com/mydocker:dind"}), lockdown.ContainerModeDefault},
		{"registry port is not a tag", podTemplate(nil, corev1.Container{Image: "registry:5000/docker"}), lockdown.ContainerModeDefault},
		{"hooks env", podTemplate(nil, corev1.Container{Image: "runner", Env: []corev1.EnvVar{{Name: "ACTIONS_RUNNER_CONTAINER_HOOKS", Value: "/home/runner/k8s/index.js"}}}), lockdown.ContainerModeKubernetes},
		{"hooks env wins over dind", podTemplate([]corev1.Container{{Image: "docker:dind"}}, corev1.Container{Image: "runner", Env: []corev1.EnvVar{{Name: "ACTIONS_RUNNER_CONTAINER_HOOKS"}}}), lockdown.ContainerModeKubernetes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lockdown.DetectContainerMode(tt.template); got != tt.want {
				t.Errorf("DetectContainerMode = %q, want %q", got, tt.want)
			}
		})
	}
}

func podTemplate(initContainers []corev1.Container, containers ...corev1.Container) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{InitContainers: initContainers, Containers: containers}}
}

// testScaleSet builds a scale set directly, in the given container mode.
func testScaleSet(namespace, name, mode string) lockdown.ScaleSet {
	runner := corev1.Container{Name: "runner", Image: "ghcr.io/actions/actions-runner:latest"}
	var initContainers []corev1.Container
	switch mode {
	case lockdown.ContainerModeDind:
		initContainers = []corev1.Container{{Name: "dind", Image: "docker:dind"}}
	case lockdown.ContainerModeKubernetes:
		runner.Env = []corev1.EnvVar{{Name: "ACTIONS_RUNNER_CONTAINER_HOOKS", Value: "/home/runner/k8s/index.js"}}
	}
	template := podTemplate(initContainers, runner)
	template.Spec.ServiceAccountName = name + "-runner"
	return lockdown.ScaleSet{Name: name, Namespace: namespace, ServiceAccountName: name + "-runner", Template: template}
}

func TestRenderObjectMetadata(t *testing.T) {
	ss := testScaleSet("ci", "web", lockdown.ContainerModeKubernetes)
	out := mustRender(t, ss, testProfile(egressv1alpha1.ModeEnforce), testMesh())

	kinds := map[string]int{}
	for _, obj := range out.Objects {
		gvk := obj.GetObjectKind().GroupVersionKind()
		kinds[gvk.Kind]++
		if gvk.Version == "" || gvk.Kind == "" {
			t.Errorf("%s has no apiVersion/kind set", obj.GetName())
		}
		if errs := validation.IsDNS1123Label(obj.GetName()); len(errs) > 0 {
			t.Errorf("%s name %q is not a DNS-1123 label: %v", gvk.Kind, obj.GetName(), errs)
		}
		labels := obj.GetLabels()
		for key, want := range map[string]string{
			egressv1alpha1.LabelScaleSet:          "web",
			egressv1alpha1.LabelScaleSetNamespace: "ci",
			egressv1alpha1.LabelManagedBy:         egressv1alpha1.ManagedByValue,
		} {
			if labels[key] != want {
				t.Errorf("%s %s label %s = %q, want %q", gvk.Kind, obj.GetName(), key, labels[key], want)
			}
		}
		if labels[egressv1alpha1.LabelComponent] == "" {
			t.Errorf("%s %s has no %s label", gvk.Kind, obj.GetName(), egressv1alpha1.LabelComponent)
		}
		wantNamespace := "ci"
		if gvk.Kind == "AuthorizationPolicy" {
			wantNamespace = "istio-system"
		}
		if obj.GetNamespace() != wantNamespace {
			t.Errorf("%s %s namespace = %q, want %q", gvk.Kind, obj.GetName(), obj.GetNamespace(), wantNamespace)
		}
		if len(obj.GetOwnerReferences()) != 0 {
			t.Errorf("%s %s has owner references; the controller sets them", gvk.Kind, obj.GetName())
		}
	}

	// Five hosts: one ServiceEntry and one VirtualService each.
	want := map[string]int{"NetworkPolicy": 2, "Sidecar": 1, "ServiceEntry": 5, "DestinationRule": 1, "Gateway": 1, "VirtualService": 5, "AuthorizationPolicy": 1}
	for kind, n := range want {
		if kinds[kind] != n {
			t.Errorf("%d %s objects, want %d", kinds[kind], kind, n)
		}
	}
	if len(kinds) != len(want) {
		t.Errorf("kinds = %v, want %v", kinds, want)
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	ss := testScaleSet("ci", "web", lockdown.ContainerModeKubernetes)
	first := renderYAML(t, ss, testProfile(egressv1alpha1.ModeEnforce))

	reversed := testProfile(egressv1alpha1.ModeEnforce)
	for i, j := 0, len(reversed.Destinations)-1; i < j; i, j = i+1, j-1 {
		reversed.Destinations[i], reversed.Destinations[j] = reversed.Destinations[j], reversed.Destinations[i]
	}
	for i := 0; i < 3; i++ {
		if got := renderYAML(t, ss, reversed); got != first {
			t.Fatalf("render %d of a reordered profile differs:\n%s\nfirst:\n%s", i, got, first)
		}
	}
}

func renderYAML(t *testing.T, ss lockdown.ScaleSet, p lockdown.Profile) string {
	t.Helper()
	var buf bytes.Buffer
	if err := lockdown.WriteYAML(&buf, mustRender(t, ss, p, testMesh())); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestRenderNamesDoNotCollide(t *testing.T) {
	// Readable parts alike: "a" + "b-runner-egress" against "a-b" +
	// "runner-egress", and the same name in two namespaces.
	scaleSets := []lockdown.ScaleSet{
		testScaleSet("ci", "a", lockdown.ContainerModeKubernetes),
		testScaleSet("ci", "a-b", lockdown.ContainerModeKubernetes),
		testScaleSet("ci-2", "a", lockdown.ContainerModeKubernetes),
		testScaleSet("ci", strings.Repeat("long-scale-set-name-", 3)+"x", lockdown.ContainerModeKubernetes),
		testScaleSet("ci", strings.Repeat("long-scale-set-name-", 3)+"y", lockdown.ContainerModeKubernetes),
	}
	// Hosts that read alike once dots and dashes are sanitised.
	p := testProfile(egressv1alpha1.ModeEnforce)
	p.Destinations = append(p.Destinations,
		lockdown.Destination{Host: "a-b.example.com", Ports: []int32{443}, Protocol: egressv1alpha1.ProtocolTLS},
		lockdown.Destination{Host: "a.b-example.com", Ports: []int32{443}, Protocol: egressv1alpha1.ProtocolTLS},
	)
	seen := map[string]string{}
	for _, ss := range scaleSets {
		out := mustRender(t, ss, p, testMesh())
		for _, obj := range out.Objects {
			if len(obj.GetName()) > 63 {
				t.Errorf("name %q has %d characters, more than 63", obj.GetName(), len(obj.GetName()))
			}
			key := obj.GetObjectKind().GroupVersionKind().Kind + " " + obj.GetNamespace() + "/" + obj.GetName()
			if owner, dup := seen[key]; dup {
				t.Errorf("%s rendered for both %s and %s/%s", key, owner, ss.Namespace, ss.Name)
			}
			seen[key] = ss.Namespace + "/" + ss.Name
		}
	}
}

func TestRenderEnforceAndAudit(t *testing.T) {
	tests := []struct {
		mode          egressv1alpha1.Mode
		wantPolicy    networkingapi.OutboundTrafficPolicy_Mode
		wantOpenRule  bool
		wantAuditWarn bool
	}{
		{egressv1alpha1.ModeEnforce, networkingapi.OutboundTrafficPolicy_REGISTRY_ONLY, false, false},
		{"", networkingapi.OutboundTrafficPolicy_REGISTRY_ONLY, false, false},
		{egressv1alpha1.ModeAudit, networkingapi.OutboundTrafficPolicy_ALLOW_ANY, true, true},
	}
	for _, tt := range tests {
		t.Run("mode "+string(tt.mode), func(t *testing.T) {
			out := mustRender(t, testScaleSet("ci", "web", lockdown.ContainerModeDefault), testProfile(tt.mode), testMesh())

			sidecar := findSidecar(t, out)
			if got := sidecar.Spec.OutboundTrafficPolicy.GetMode(); got != tt.wantPolicy {
				t.Errorf("Sidecar outbound traffic policy = %v, want %v", got, tt.wantPolicy)
			}
			runner := findNetworkPolicy(t, out, lockdown.ComponentRunnerEgress)
			if got := hasOpenRule(runner); got != tt.wantOpenRule {
				t.Errorf("runner NetworkPolicy allows all egress = %v, want %v", got, tt.wantOpenRule)
			}
			if got := hasWarning(out, lockdown.WarningAuditMode); got != tt.wantAuditWarn {
				t.Errorf("audit warning present = %v, want %v (warnings %v)", got, tt.wantAuditWarn, out.Warnings)
			}
		})
	}
}

func TestRenderSidecarHosts(t *testing.T) {
	tests := []struct {
		mode          string
		wantAPIServer bool
	}{
		{lockdown.ContainerModeDefault, false},
		{lockdown.ContainerModeKubernetes, true},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			out := mustRender(t, testScaleSet("ci", "web", tt.mode), testProfile(egressv1alpha1.ModeEnforce), testMesh())
			sidecar := findSidecar(t, out)

			hosts := sidecar.Spec.Egress[0].Hosts
			for _, want := range []string{
				"./github.com", "./*.actions.githubusercontent.com", "./mirror.corp.example.com",
				"istio-system/istio-egressgateway.istio-system.svc.cluster.local",
				"arc-lockdown-system/arc-lockdown-access-log.arc-lockdown-system.svc.cluster.local",
			} {
				if !contains(hosts, want) {
					t.Errorf("Sidecar egress hosts %v lack %q", hosts, want)
				}
			}
			if got := contains(hosts, "*/kubernetes.default.svc.cluster.local"); got != tt.wantAPIServer {
				t.Errorf("Sidecar egress hosts include the API server = %v, want %v", got, tt.wantAPIServer)
			}
			if got := sidecar.Spec.WorkloadSelector.Labels; got["actions.github.com/scale-set-name"] != "web" || got["app.kubernetes.io/component"] != "runner" {
				t.Errorf("Sidecar selects %v, want the runner pods of web", got)
			}
		})
	}
}

func TestRenderServiceEntries(t *testing.T) {
	out := mustRender(t, testScaleSet("ci", "web", lockdown.ContainerModeDefault), testProfile(egressv1alpha1.ModeEnforce), testMesh())

	byHost := map[string]*istionetworkingv1.ServiceEntry{}
	for _, obj := range out.Objects {
		if se, ok := obj.(*istionetworkingv1.ServiceEntry); ok {
			byHost[se.Spec.Hosts[0]] = se
		}
	}
	tests := []struct {
		host           string
		wantResolution networkingapi.ServiceEntry_Resolution
		wantPorts      []string
	}{
		{"github.com", networkingapi.ServiceEntry_DNS, []string{"tls-443/TLS/443"}},
		{"*.actions.githubusercontent.com", networkingapi.ServiceEntry_NONE, []string{"tls-443/TLS/443"}},
		{"mirror.corp.example.com", networkingapi.ServiceEntry_DNS, []string{"tls-443/TLS/443", "http-80/HTTP/80"}},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			se := byHost[tt.host]
			if se == nil {
				t.Fatalf("no ServiceEntry for %s", tt.host)
			}
			if se.Spec.Resolution != tt.wantResolution {
				t.Errorf("resolution = %v, want %v", se.Spec.Resolution, tt.wantResolution)
			}
			if se.Spec.Location != networkingapi.ServiceEntry_MESH_EXTERNAL {
				t.Errorf("location = %v, want MESH_EXTERNAL", se.Spec.Location)
			}
			var ports []string
			for _, p := range se.Spec.Ports {
				ports = append(ports, p.Name+"/"+p.Protocol+"/"+itoa(p.Number))
			}
			if strings.Join(ports, ",") != strings.Join(tt.wantPorts, ",") {
				t.Errorf("ports = %v, want %v", ports, tt.wantPorts)
			}
			if strings.Join(se.Spec.ExportTo, ",") != ".,istio-system" {
				t.Errorf("exportTo = %v, want [. istio-system]", se.Spec.ExportTo)
			}
		})
	}
}

func TestRenderVirtualServiceRoutes(t *testing.T) {
	out := mustRender(t, testScaleSet("ci", "web", lockdown.ContainerModeDefault), testProfile(egressv1alpha1.ModeEnforce), testMesh())

	var gatewayRef string
	for _, obj := range out.Objects {
		if gw, ok := obj.(*istionetworkingv1.Gateway); ok {
			gatewayRef = gw.Namespace + "/" + gw.Name
		}
	}
	var vs *istionetworkingv1.VirtualService
	for _, obj := range out.Objects {
		if v, ok := obj.(*istionetworkingv1.VirtualService); ok && v.Spec.Hosts[0] == "mirror.corp.example.com" {
			vs = v
		}
	}
	if vs == nil {
		t.Fatal("no VirtualService for mirror.corp.example.com")
	}

	if len(vs.Spec.Tls) != 1 || vs.Spec.Tls[0].Match[0].Gateways[0] != "mesh" || vs.Spec.Tls[0].Match[0].SniHosts[0] != "mirror.corp.example.com" {
		t.Fatalf("TLS routes = %v, want one mesh route matching SNI mirror.corp.example.com", vs.Spec.Tls)
	}
	toGateway := vs.Spec.Tls[0].Route[0].Destination
	if toGateway.Host != "istio-egressgateway.istio-system.svc.cluster.local" || toGateway.Port.Number != 443 || toGateway.Subset == "" {
		t.Errorf("mesh TLS route goes to %v, want the gateway subset on port 443", toGateway)
	}
	if len(vs.Spec.Tcp) != 1 || vs.Spec.Tcp[0].Match[0].Gateways[0] != gatewayRef || vs.Spec.Tcp[0].Route[0].Destination.Host != "mirror.corp.example.com" {
		t.Errorf("gateway TCP routes = %v, want one route from %s to mirror.corp.example.com", vs.Spec.Tcp, gatewayRef)
	}
	if len(vs.Spec.Http) != 2 {
		t.Fatalf("HTTP routes = %v, want mesh → gateway and gateway → host", vs.Spec.Http)
	}
	if got := vs.Spec.Http[0].Route[0].Destination; got.Port.Number != 80 || got.Host != "istio-egressgateway.istio-system.svc.cluster.local" {
		t.Errorf("mesh HTTP route goes to %v, want the gateway on port 80", got)
	}
	if got := vs.Spec.Http[1]; got.Match[0].Gateways[0] != gatewayRef || got.Route[0].Destination.Host != "mirror.corp.example.com" || got.Route[0].Destination.Port.Number != 80 {
		t.Errorf("gateway HTTP route = %v, want %s → mirror.corp.example.com:80", got, gatewayRef)
	}

	var subsets []string
	for _, obj := range out.Objects {
		if dr, ok := obj.(*istionetworkingv1.DestinationRule); ok {
			for _, s := range dr.Spec.Subsets {
				subsets = append(subsets, s.Name)
			}
		}
	}
	if !contains(subsets, toGateway.Subset) {
		t.Errorf("route subset %q not among DestinationRule subsets %v", toGateway.Subset, subsets)
	}
}

func TestRenderAuthorizationPolicy(t *testing.T) {
	out := mustRender(t, testScaleSet("ci", "web", lockdown.ContainerModeDefault), testProfile(egressv1alpha1.ModeEnforce), testMesh())
	ap := findAuthorizationPolicy(t, out)

	if ap.Namespace != "istio-system" || ap.Spec.Selector.MatchLabels["istio"] != "egressgateway" {
		t.Errorf("policy %s/%s selects %v, want istio-system and istio=egressgateway", ap.Namespace, ap.Name, ap.Spec.Selector.MatchLabels)
	}
	if len(ap.Spec.Rules) != 2 {
		t.Fatalf("rules = %v, want one TLS and one HTTP rule", ap.Spec.Rules)
	}
	for _, rule := range ap.Spec.Rules {
		if got := rule.From[0].Source.Principals; len(got) != 1 || got[0] != "cluster.local/ns/ci/sa/web-runner" {
			t.Errorf("rule admits %v, want only cluster.local/ns/ci/sa/web-runner", got)
		}
	}
	tlsRule, httpRule := ap.Spec.Rules[0], ap.Spec.Rules[1]
	if got := tlsRule.To[0].Operation.Ports; len(got) != 1 || got[0] != "8443" {
		t.Errorf("TLS rule ports = %v, want [8443]", got)
	}
	if tlsRule.When[0].Key != "connection.sni" || !contains(tlsRule.When[0].Values, "github.com") || !contains(tlsRule.When[0].Values, "*.actions.githubusercontent.com") {
		t.Errorf("TLS rule condition = %v, want connection.sni over the TLS hosts", tlsRule.When)
	}
	if contains(tlsRule.When[0].Values, "evil.example.com") {
		t.Errorf("TLS rule admits a host outside the profile")
	}
	if got := httpRule.To[0].Operation; len(got.Ports) != 1 || got.Ports[0] != "8080" || len(got.Hosts) != 1 || got.Hosts[0] != "mirror.corp.example.com" {
		t.Errorf("HTTP rule operation = %v, want hosts [mirror.corp.example.com] on port 8080", got)
	}
}

func TestRenderWarnings(t *testing.T) {
	dindAnnotated := testScaleSet("ci", "web", lockdown.ContainerModeDind)
	dindAnnotated.Template.Annotations = map[string]string{lockdown.AnnotationRerouteVirtualInterfaces: "docker0"}
	noInjection := testScaleSet("ci", "web", lockdown.ContainerModeDefault)
	noInjection.Template.Annotations = map[string]string{"sidecar.istio.io/inject": "false"}
	noAPIServer := testMesh()
	noAPIServer.APIServerCIDRs = nil
	noAccessLog := meshWithoutAccessLog()

	tests := []struct {
		name    string
		ss      lockdown.ScaleSet
		mode    egressv1alpha1.Mode
		mesh    lockdown.MeshOptions
		want    []string
		notWant []string
	}{
		{"dind without reroute annotation", testScaleSet("ci", "web", lockdown.ContainerModeDind), egressv1alpha1.ModeEnforce, testMesh(), []string{lockdown.WarningDindWithoutReroute}, nil},
		{"dind with reroute annotation", dindAnnotated, egressv1alpha1.ModeEnforce, testMesh(), nil, []string{lockdown.WarningDindWithoutReroute}},
		{"default mode", testScaleSet("ci", "web", lockdown.ContainerModeDefault), egressv1alpha1.ModeEnforce, testMesh(), []string{lockdown.WarningWildcardForwarding}, []string{lockdown.WarningDindWithoutReroute, lockdown.WarningAuditMode, lockdown.WarningDefaultServiceAccount}},
		{"kubernetes mode audit", testScaleSet("ci", "web", lockdown.ContainerModeKubernetes), egressv1alpha1.ModeAudit, testMesh(), []string{lockdown.WarningAuditMode, lockdown.WarningAuditJobPods}, []string{lockdown.WarningAPIServerUnreachable}},
		{"kubernetes mode without API server", testScaleSet("ci", "web", lockdown.ContainerModeKubernetes), egressv1alpha1.ModeEnforce, noAPIServer, []string{lockdown.WarningAPIServerUnreachable}, nil},
		{"sidecar injection off", noInjection, egressv1alpha1.ModeEnforce, testMesh(), []string{lockdown.WarningSidecarInjectionDisabled}, nil},
		{"access log configured", testScaleSet("ci", "web", lockdown.ContainerModeKubernetes), egressv1alpha1.ModeEnforce, testMesh(), nil, []string{lockdown.WarningAccessLogUnreachable}},
		{"access log not configured", testScaleSet("ci", "web", lockdown.ContainerModeDefault), egressv1alpha1.ModeEnforce, noAccessLog, []string{lockdown.WarningAccessLogUnreachable}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := mustRender(t, tt.ss, testProfile(tt.mode), tt.mesh)
			for _, reason := range tt.want {
				if !hasWarning(out, reason) {
					t.Errorf("warnings %v lack %s", out.Warnings, reason)
				}
			}
			for _, reason := range tt.notWant {
				if hasWarning(out, reason) {
					t.Errorf("warnings %v include %s", out.Warnings, reason)
				}
			}
		})
	}
}

func TestRenderDindWarningExplainsBypass(t *testing.T) {
	out := mustRender(t, testScaleSet("ci", "web", lockdown.ContainerModeDind), testProfile(egressv1alpha1.ModeEnforce), testMesh())
	for _, w := range out.Warnings {
		if w.Reason == lockdown.WarningDindWithoutReroute {
			for _, part := range []string{"docker bridge", "sidecar", "istio.io/reroute-virtual-interfaces", "docker0"} {
				if !strings.Contains(w.Message, part) {
					t.Errorf("dind warning %q does not mention %q", w.Message, part)
				}
			}
			return
		}
	}
	t.Fatalf("no %s warning in %v", lockdown.WarningDindWithoutReroute, out.Warnings)
}

func TestRenderPortsNotRouted(t *testing.T) {
	p := lockdown.Profile{Mode: egressv1alpha1.ModeEnforce, Destinations: []lockdown.Destination{
		{Host: "git.corp.example.com", Ports: []int32{443, 8443}, Protocol: egressv1alpha1.ProtocolTLS},
	}}
	out := mustRender(t, testScaleSet("ci", "web", lockdown.ContainerModeDefault), p, testMesh())
	if !hasWarning(out, lockdown.WarningPortsNotRouted) {
		t.Errorf("warnings %v lack %s", out.Warnings, lockdown.WarningPortsNotRouted)
	}
}

func TestRenderEmptyProfile(t *testing.T) {
	out := mustRender(t, testScaleSet("ci", "web", lockdown.ContainerModeDefault), lockdown.Profile{Mode: egressv1alpha1.ModeEnforce}, testMesh())
	var kinds []string
	for _, obj := range out.Objects {
		kinds = append(kinds, obj.GetObjectKind().GroupVersionKind().Kind)
	}
	if strings.Join(kinds, ",") != "NetworkPolicy,Sidecar" {
		t.Errorf("kinds = %v, want only the NetworkPolicy and the Sidecar", kinds)
	}
}

func TestRenderRejectsInvalidInput(t *testing.T) {
	badMesh := testMesh()
	badMesh.EgressGatewayLabels = nil
	badCIDR := testMesh()
	badCIDR.APIServerCIDRs = []string{"10.0.0.300/32"}
	accessLogNoLabels := testMesh()
	accessLogNoLabels.AccessLogLabels = nil
	accessLogNoHost := testMesh()
	accessLogNoHost.AccessLogServiceHost = ""
	accessLogBadPort := testMesh()
	accessLogBadPort.AccessLogPort = 70000
	accessLogOnlyNamespace := meshWithoutAccessLog()
	accessLogOnlyNamespace.AccessLogNamespace = "arc-lockdown-system"
	tests := []struct {
		name    string
		ss      lockdown.ScaleSet
		profile lockdown.Profile
		mesh    lockdown.MeshOptions
		wantErr string
	}{
		{"unknown mode", testScaleSet("ci", "web", ""), lockdown.Profile{Mode: "block"}, testMesh(), `profile mode "block" is invalid`},
		{"unknown protocol", testScaleSet("ci", "web", ""), lockdown.Profile{Destinations: []lockdown.Destination{{Host: "a.example.com", Ports: []int32{443}, Protocol: "UDP"}}}, testMesh(), `protocol "UDP" is invalid`},
		{"no ports", testScaleSet("ci", "web", ""), lockdown.Profile{Destinations: []lockdown.Destination{{Host: "a.example.com", Protocol: egressv1alpha1.ProtocolTLS}}}, testMesh(), "ports are empty"},
		{"port out of range", testScaleSet("ci", "web", ""), lockdown.Profile{Destinations: []lockdown.Destination{{Host: "a.example.com", Ports: []int32{70000}, Protocol: egressv1alpha1.ProtocolTLS}}}, testMesh(), "port 70000 is outside 1-65535"},
		{"bare wildcard", testScaleSet("ci", "web", ""), lockdown.Profile{Destinations: []lockdown.Destination{{Host: "*", Ports: []int32{443}, Protocol: egressv1alpha1.ProtocolTLS}}}, testMesh(), "host must be a DNS name"},
		{"no namespace", lockdown.ScaleSet{Name: "web", ServiceAccountName: "sa"}, lockdown.Profile{}, testMesh(), "must both be set"},
		{"no service account", lockdown.ScaleSet{Name: "web", Namespace: "ci"}, lockdown.Profile{}, testMesh(), "has no ServiceAccountName"},
		{"empty gateway selector", testScaleSet("ci", "web", ""), lockdown.Profile{}, badMesh, "EgressGatewayLabels is empty"},
		{"invalid API server CIDR", testScaleSet("ci", "web", ""), lockdown.Profile{}, badCIDR, `APIServerCIDRs contains invalid CIDR "10.0.0.300/32"`},
		{"access log without labels", testScaleSet("ci", "web", ""), lockdown.Profile{}, accessLogNoLabels, "AccessLogLabels is empty"},
		{"access log without Service host", testScaleSet("ci", "web", ""), lockdown.Profile{}, accessLogNoHost, "AccessLogServiceHost is empty"},
		{"access log port out of range", testScaleSet("ci", "web", ""), lockdown.Profile{}, accessLogBadPort, "AccessLogPort is 70000"},
		{"access log with only a namespace", testScaleSet("ci", "web", ""), lockdown.Profile{}, accessLogOnlyNamespace, "AccessLogPort is 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lockdown.Render(tt.ss, tt.profile, tt.mesh)
			if err == nil {
				t.Fatalf("Render succeeded, want an error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func findSidecar(t *testing.T, out lockdown.Rendered) *istionetworkingv1.Sidecar {
	t.Helper()
	for _, obj := range out.Objects {
		if s, ok := obj.(*istionetworkingv1.Sidecar); ok {
			return s
		}
	}
	t.Fatal("no Sidecar rendered")
	return nil
}

func findAuthorizationPolicy(t *testing.T, out lockdown.Rendered) *istiosecurityv1.AuthorizationPolicy {
	t.Helper()
	for _, obj := range out.Objects {
		if ap, ok := obj.(*istiosecurityv1.AuthorizationPolicy); ok {
			return ap
		}
	}
	t.Fatal("no AuthorizationPolicy rendered")
	return nil
}

func findNetworkPolicy(t *testing.T, out lockdown.Rendered, component string) *networkingv1.NetworkPolicy {
	t.Helper()
	for _, obj := range out.Objects {
		if np, ok := obj.(*networkingv1.NetworkPolicy); ok && np.Labels[egressv1alpha1.LabelComponent] == component {
			return np
		}
	}
	t.Fatalf("no NetworkPolicy with component %s rendered", component)
	return nil
}

func hasOpenRule(np *networkingv1.NetworkPolicy) bool {
	for _, rule := range np.Spec.Egress {
		if len(rule.To) == 0 && len(rule.Ports) == 0 {
			return true
		}
	}
	return false
}

func hasWarning(out lockdown.Rendered, reason string) bool {
	for _, w := range out.Warnings {
		if w.Reason == reason {
			return true
		}
	}
	return false
}

func contains(values []string, want string) bool {
	for _, v := range values {
		if v == want {
			return true
		}
	}
	return false
}

func itoa(n uint32) string {
	return strconv.FormatUint(uint64(n), 10)
}

func TestRenderSkipsIPDestinations(t *testing.T) {
	p := testProfile(egressv1alpha1.ModeEnforce)
	p.Destinations = append(p.Destinations,
		lockdown.Destination{Host: "10.20.30.40", Ports: []int32{443}, Protocol: egressv1alpha1.ProtocolTLS},
		lockdown.Destination{Host: "fd00::7", Ports: []int32{80}, Protocol: egressv1alpha1.ProtocolHTTP},
	)
	out := mustRender(t, testScaleSet("ci", "web", lockdown.ContainerModeDefault), p, testMesh())

	if !hasWarning(out, lockdown.WarningAddressesNotRendered) {
		t.Errorf("warnings %v lack %s", out.Warnings, lockdown.WarningAddressesNotRendered)
	}
	var buf bytes.Buffer
	if err := lockdown.WriteYAML(&buf, lockdown.Rendered{Objects: out.Objects}); err != nil {
		t.Fatal(err)
	}
	for _, address := range []string{"10.20.30.40", "fd00::7"} {
		if strings.Contains(buf.String(), address) {
			t.Errorf("rendered objects mention the IP destination %s", address)
		}
	}
	if got := len(findSidecar(t, out).Spec.Egress[0].Hosts); got != 7 {
		t.Errorf("Sidecar lists %d egress hosts, want the 5 names, the gateway and the access-log Service", got)
	}
}

func TestRenderAuthorizationPolicyHTTPPort(t *testing.T) {
	p := lockdown.Profile{Mode: egressv1alpha1.ModeEnforce, Destinations: []lockdown.Destination{
		{Host: "cache.corp.example.com", Ports: []int32{8081}, Protocol: egressv1alpha1.ProtocolHTTP},
	}}
	out := mustRender(t, testScaleSet("ci", "web", lockdown.ContainerModeDefault), p, testMesh())
	hosts := findAuthorizationPolicy(t, out).Spec.Rules[0].To[0].Operation.Hosts
	for _, want := range []string{"cache.corp.example.com", "cache.corp.example.com:8081"} {
		if !contains(hosts, want) {
			t.Errorf("HTTP rule hosts %v lack %q", hosts, want)
		}
	}
}

// Switching modes must update objects in place, not replace them.
func TestRenderModesShareNames(t *testing.T) {
	ss := testScaleSet("ci", "web", lockdown.ContainerModeKubernetes)
	names := func(mode egressv1alpha1.Mode) []string {
		var out []string
		for _, obj := range mustRender(t, ss, testProfile(mode), testMesh()).Objects {
			out = append(out, obj.GetObjectKind().GroupVersionKind().Kind+" "+obj.GetNamespace()+"/"+obj.GetName())
		}
		return out
	}
	enforce, audit := names(egressv1alpha1.ModeEnforce), names(egressv1alpha1.ModeAudit)
	if strings.Join(enforce, "\n") != strings.Join(audit, "\n") {
		t.Errorf("object names differ between modes:\nenforce:\n%s\naudit:\n%s", strings.Join(enforce, "\n"), strings.Join(audit, "\n"))
	}
}
