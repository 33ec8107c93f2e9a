package kubeconfig

import (
	"reflect"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gossipod/gossipod/api/client"
)

// clientcmdLoad is Load done by k8s.io/client-go's tools/clientcmd, the
// loader kubectl uses: the reference Load must agree with. It is in a
// test file so that clientcmd's package init stays out of the binary.
func clientcmdLoad(opts Options) (client.Config, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: opts.Path}
	if opts.Path == "" {
		rules.Precedence = Files(opts)
	}
	raw, err := rules.Load()
	if err != nil {
		return client.Config{}, err
	}
	if clientcmdapi.IsConfigEmpty(raw) {
		return client.Config{Server: opts.Server}, nil
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: opts.Context}
	overrides.ClusterInfo.Server = opts.Server
	rc, err := clientcmd.NewNonInteractiveClientConfig(*raw, opts.Context, overrides, rules).ClientConfig()
	if err != nil {
		return client.Config{}, err
	}
	return client.Config{
		Server: rc.Host, CAData: rc.CAData, CAFile: rc.CAFile, ServerName: rc.ServerName, Insecure: rc.Insecure,
		CertData: rc.CertData, KeyData: rc.KeyData, CertFile: rc.CertFile, KeyFile: rc.KeyFile,
		BearerToken: rc.BearerToken, BearerTokenFile: rc.BearerTokenFile,
	}, nil
}

// agreeWithClientcmd fails t unless Load's result for opts (got, err) is
// clientcmd's: both an error, or the same settings.
func agreeWithClientcmd(t *testing.T, opts Options, got client.Config, err error) {
	t.Helper()
	want, werr := clientcmdLoad(opts)
	if (err != nil) != (werr != nil) {
		t.Errorf("Load error %v, clientcmd's %v", err, werr)
		return
	}
	got.Source = ""
	if want.BearerTokenFile != "" {
		// clientcmd also reads the file into BearerToken; the client reads
		// it itself, and the file wins either way.
		want.BearerToken = ""
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Errorf("Load and clientcmd differ:\n Load      %+v\n clientcmd %+v", got, want)
	}
}

// TestRenderClientcmd: clientcmd reads what Render writes.
func TestRenderClientcmd(t *testing.T) {
	creds := Credentials{Server: "https://10.0.0.1:7948", CAPEM: []byte("ca pem"), CertPEM: []byte("cert pem"), KeyPEM: []byte("key pem"), Token: "tok"}
	out, err := Render(creds)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(out)
	if err != nil {
		t.Fatalf("clientcmd.Load(Render): %v\n%s", err, out)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if cfg.CurrentContext != ContextName || ctx == nil || ctx.Cluster != ClusterName || ctx.AuthInfo != UserName {
		t.Fatalf("clientcmd read %+v", cfg)
	}
	cl, u := cfg.Clusters[ClusterName], cfg.AuthInfos[UserName]
	if cl.Server != creds.Server || string(cl.CertificateAuthorityData) != "ca pem" ||
		string(u.ClientCertificateData) != "cert pem" || string(u.ClientKeyData) != "key pem" || u.Token != "tok" {
		t.Errorf("clientcmd read cluster %+v user %+v", cl, u)
	}
	// And clientcmd.Write writes the same bytes.
	want, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(want) {
		t.Errorf("Render:\n%s\nclientcmd.Write:\n%s", out, want)
	}
}
