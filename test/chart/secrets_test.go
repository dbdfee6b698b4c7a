package chart

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/arc-lockdown/arc-lockdown/github"
)

// TestCreatedAppSecretReadsAsCredentials renders the chart with an App ID
// and a freshly generated private key, and reads the Secret the chart
// creates with github.CredentialsFromSecret, as the controller does.
func TestCreatedAppSecretReadsAsCredentials(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	privateKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	values := map[string]any{
		"githubApp": map[string]any{"existingSecret": "", "appId": 987654, "privateKey": privateKey},
	}

	list := objects(t, mustRender(t, loadChart(t), values).Manifest)
	object := findObject(t, list, "Secret", releaseName+"-github-app")
	var secret corev1.Secret
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(object.Object, &secret); err != nil {
		t.Fatalf("decode Secret: %v", err)
	}
	// The API server moves stringData into data; do the same here.
	secret.Data = map[string][]byte{}
	for name, value := range secret.StringData {
		secret.Data[name] = []byte(value)
	}

	credentials, err := github.CredentialsFromSecret(&secret)

	if err != nil {
		t.Fatalf("the chart's Secret is not valid GitHub App credentials: %v", err)
	}
	if credentials.AppID != 987654 {
		t.Errorf("AppID = %d, expected 987654", credentials.AppID)
	}
	if string(credentials.PrivateKey) != privateKey {
		t.Error("the private key differs from the value given")
	}

	args := firstContainerArgs(t, findKind(t, list, "Deployment"))
	if !slices.Contains(args, "--github-app-secret="+releaseName+"-github-app") {
		t.Errorf("controller args %q do not name the created Secret", args)
	}
}
