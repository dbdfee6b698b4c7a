package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arc-lockdown/arc-lockdown/github"
	"github.com/arc-lockdown/arc-lockdown/test/envtest"
)

func TestControllerFlagsDefaults(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "arc-system")
	var out bytes.Buffer
	cfg, err := parseControllerFlags(nil, &out)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	want := controllerConfig{
		MetricsBindAddress:     ":8080",
		HealthProbeBindAddress: ":8081",
		LeaderElect:            false,
		ResyncPeriod:           5 * time.Minute,
		Namespace:              "arc-system",
		GitHubAppSecret:        "arc-lockdown-github-app",
		AccessLogBindAddress:   ":9977",
		WebhookBindAddress:     ":9443",
		CheckRunInterval:       3 * time.Second,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("defaults = %+v, want %+v", cfg, want)
	}
}

func TestControllerFlagsParsesEveryFlag(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "")
	args := []string{
		"--metrics-bind-address=127.0.0.1:9090",
		"--health-probe-bind-address=127.0.0.1:9091",
		"--leader-elect",
		"--resync-period=90s",
		"--namespace=ops",
		"--github-app-secret=app",
		"--github-ca-bundle=/etc/ca.pem",
		"--mesh-config=/etc/mesh.yaml",
		"--access-log-bind-address=127.0.0.1:9978",
		"--webhook-bind-address=127.0.0.1:9444",
		"--webhook-secret-file=/etc/webhook/secret",
		"--check-run-interval=10s",
		"--github-api-url=github.com=http://127.0.0.1:8000",
		"--github-api-url=ghes.corp.example.com=https://proxy.corp.example.com/api/v3/",
	}
	cfg, err := parseControllerFlags(args, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	want := controllerConfig{
		MetricsBindAddress:     "127.0.0.1:9090",
		HealthProbeBindAddress: "127.0.0.1:9091",
		LeaderElect:            true,
		ResyncPeriod:           90 * time.Second,
		Namespace:              "ops",
		GitHubAppSecret:        "app",
		GitHubCABundle:         "/etc/ca.pem",
		MeshConfig:             "/etc/mesh.yaml",
		AccessLogBindAddress:   "127.0.0.1:9978",
		WebhookBindAddress:     "127.0.0.1:9444",
		WebhookSecretFile:      "/etc/webhook/secret",
		CheckRunInterval:       10 * time.Second,
		GitHubAPIURLs: map[string]string{
			"github.com":            "http://127.0.0.1:8000/",
			"ghes.corp.example.com": "https://proxy.corp.example.com/api/v3/",
		},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("parsed = %+v, want %+v", cfg, want)
	}
}

func TestControllerFlagsRejectMissingNamespace(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "")
	_, err := parseControllerFlags(nil, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "POD_NAMESPACE") {
		t.Errorf("err = %v, want one naming --namespace and POD_NAMESPACE", err)
	}
}

func TestControllerFlagsRejectShortResync(t *testing.T) {
	_, err := parseControllerFlags([]string{"--namespace=ops", "--resync-period=10ms"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "--resync-period") {
		t.Errorf("err = %v, want one naming --resync-period", err)
	}
}

func TestControllerHelpExitsZero(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseControllerFlags([]string{"-h"}, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	if code := runController([]string{"-h"}, &bytes.Buffer{}, &stderr); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
	if !strings.Contains(stderr.String(), "-github-app-secret") {
		t.Errorf("help does not list --github-app-secret:\n%s", stderr.String())
	}
}

func TestLoadMeshOptionsOverlaysDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mesh.yaml")
	content := "egressGatewayNamespace: mesh-egress\napiServerCIDRs: [\"10.0.0.1/32\"]\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	mesh, err := loadMeshOptions(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if mesh.EgressGatewayNamespace != "mesh-egress" {
		t.Errorf("EgressGatewayNamespace = %q, want mesh-egress", mesh.EgressGatewayNamespace)
	}
	if len(mesh.APIServerCIDRs) != 1 || mesh.APIServerCIDRs[0] != "10.0.0.1/32" {
		t.Errorf("APIServerCIDRs = %v, want [10.0.0.1/32]", mesh.APIServerCIDRs)
	}
	if mesh.IstiodPort != 15012 {
		t.Errorf("IstiodPort = %d, want the default 15012", mesh.IstiodPort)
	}
}

func TestLoadMeshOptionsRejectsUnknownField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(path, []byte("egressGatewayNamspace: typo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := loadMeshOptions(path)
	if err == nil || !strings.Contains(err.Error(), "egressGatewayNamspace") {
		t.Errorf("err = %v, want one naming the unknown field", err)
	}
}

func TestControllerCommandIsRegistered(t *testing.T) {
	if _, ok := commands["controller"]; !ok {
		t.Fatal("the controller command is not registered")
	}
}

func TestControllerFlagsRejectBadAPIURL(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "ops")
	for _, value := range []string{"github.com", "=http://127.0.0.1/", "github.com=ftp://x/", "github.com=not a url"} {
		_, err := parseControllerFlags([]string{"--github-api-url=" + value}, &bytes.Buffer{})
		if err == nil {
			t.Errorf("--github-api-url=%s accepted, want an error", value)
		}
	}
}

func TestControllerStartsAndServesProbes(t *testing.T) {
	env := envtest.Start(t, envtest.Options{ARC: envtest.ARCModule})
	ctx := context.Background()

	const namespace = "arc-lockdown"
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "arc-lockdown-github-app", Namespace: namespace},
		Data: map[string][]byte{
			github.SecretKeyAppID:      []byte("12345"),
			github.SecretKeyPrivateKey: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		},
	}
	if err := env.Client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	// The controller runs as its ServiceAccount with the generated rules
	// only, so a rule it needs but does not declare fails the test.
	const serviceAccount = "system:serviceaccount:" + namespace + ":arc-lockdown"
	grantGeneratedRules(t, env, namespace, "arc-lockdown")
	t.Setenv("KUBECONFIG", writeKubeconfig(t, env.Config, serviceAccount))

	probes := freeAddress(t)
	cfg, err := parseControllerFlags([]string{
		"--namespace=" + namespace,
		"--leader-elect",
		"--metrics-bind-address=0",
		"--health-probe-bind-address=" + probes,
		"--access-log-bind-address=",
		"--webhook-bind-address=",
	}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- startController(runCtx, cfg) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + probes + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("/readyz on %s did not return 200 within 30s (last error: %v)", probes, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	var lease coordinationv1.Lease
	for {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "arc-lockdown"}, &lease)
		if err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "" {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("the controller did not acquire the leader-election Lease within 30s (last error: %v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("controller stopped with an error: %v", err)
	}
}

// grantGeneratedRules creates the ClusterRole and Role documents of
// charts/arc-lockdown/files/role.yaml, the Role in namespace, and binds
// them to the ServiceAccount.
func grantGeneratedRules(t *testing.T, env *envtest.Env, namespace, account string) {
	t.Helper()
	root, err := envtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := envtest.ReadObjects(filepath.Join(root, "charts", "arc-lockdown", "files", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: account, Namespace: namespace}}
	for _, obj := range objs {
		var binding client.Object
		roleRef := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: obj.GetKind(), Name: obj.GetName()}
		switch obj.GetKind() {
		case "ClusterRole":
			binding = &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: obj.GetName()}, RoleRef: roleRef, Subjects: subjects}
		case "Role":
			obj.SetNamespace(namespace)
			binding = &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: obj.GetName(), Namespace: namespace}, RoleRef: roleRef, Subjects: subjects}
		default:
			t.Fatalf("role.yaml holds a %s; expected ClusterRole and Role documents only", obj.GetKind())
		}
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatalf("create %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
		if err := env.Client.Create(ctx, binding); err != nil {
			t.Fatalf("bind %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
}

// writeKubeconfig writes a kubeconfig that uses the API server's admin
// credentials to impersonate a user, and returns its path.
func writeKubeconfig(t *testing.T, config *restclient.Config, impersonate string) string {
	t.Helper()
	kubeconfig := clientcmdapi.NewConfig()
	kubeconfig.Clusters["envtest"] = &clientcmdapi.Cluster{Server: config.Host, CertificateAuthorityData: config.CAData}
	kubeconfig.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: config.CertData, ClientKeyData: config.KeyData, Token: config.BearerToken, Impersonate: impersonate}
	kubeconfig.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kubeconfig.CurrentContext = "envtest"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kubeconfig, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// freeAddress returns a 127.0.0.1 address with a port that was free.
func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
