package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// obj is one Kubernetes object as YAML gives it.
type obj = map[string]any

// at walks keys (string for maps, int for lists) and returns what is there,
// nil when anything on the way is missing.
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(obj)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	s, _ := at(v, path...).(string)
	return s
}

func list(v any, path ...any) []any {
	l, _ := at(v, path...).([]any)
	return l
}

func name(o obj) string { return str(o, "metadata", "name") }

// render builds the manifests as kubectl kustomize does: with the
// kustomize built into kubectl when it is installed, otherwise here
// (resources, the namespace, ConfigMaps from the generator's files, without
// the hash suffix). Either way every reference below must hold.
func render(t *testing.T) []obj {
	t.Helper()
	var docs []byte
	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		out, err := exec.Command(kubectl, "kustomize", "--load-restrictor=LoadRestrictionsNone", "kubernetes").Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("kubectl kustomize deploy/kubernetes: %v\n%s", err, ee.Stderr)
			}
			t.Fatal(err)
		}
		docs = out
	} else {
		t.Log("kubectl is not installed: the kustomization is rendered by the test")
		docs = renderByHand(t)
	}
	var out []obj
	dec := yaml.NewDecoder(bytes.NewReader(docs))
	for {
		var o obj
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("rendered manifests: %v", err)
		}
		if o != nil {
			out = append(out, o)
		}
	}
}

func renderByHand(t *testing.T) []byte {
	t.Helper()
	dir := "kubernetes"
	k := readYAML(t, filepath.Join(dir, "kustomization.yaml"))
	ns := str(k, "namespace")
	var b bytes.Buffer
	for _, r := range list(k, "resources") {
		data, err := os.ReadFile(filepath.Join(dir, r.(string)))
		if err != nil {
			t.Fatalf("kustomization resource: %v", err)
		}
		b.Write(data)
		b.WriteString("\n---\n")
	}
	for _, g := range list(k, "configMapGenerator") {
		cm := obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj{"name": str(g, "name"), "namespace": ns}, "data": obj{}}
		for _, f := range list(g, "files") {
			key, path, _ := strings.Cut(f.(string), "=")
			data, err := os.ReadFile(filepath.Join(dir, path))
			if err != nil {
				t.Fatalf("configMapGenerator %s: %v", str(g, "name"), err)
			}
			cm["data"].(obj)[key] = string(data)
		}
		out, _ := yaml.Marshal(cm)
		b.Write(out)
		b.WriteString("\n---\n")
	}
	return b.Bytes()
}

func readYAML(t *testing.T, path string) obj {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var o obj
	if err := yaml.Unmarshal(data, &o); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return o
}

// manifests indexes the rendered objects.
type manifests struct {
	all        []obj
	configMaps map[string]obj
	secrets    map[string]obj
	services   []obj
	workloads  []obj // Deployments and StatefulSets
}

func load(t *testing.T) *manifests {
	m := &manifests{all: render(t), configMaps: map[string]obj{}, secrets: map[string]obj{}}
	for _, o := range m.all {
		if ns := str(o, "metadata", "namespace"); str(o, "kind") != "Namespace" && ns != "cradlewatch" {
			t.Errorf("%s %s in namespace %q", str(o, "kind"), name(o), ns)
		}
		switch str(o, "kind") {
		case "ConfigMap":
			m.configMaps[name(o)] = o
		case "Secret":
			m.secrets[name(o)] = o
		case "Service":
			m.services = append(m.services, o)
		case "Deployment", "StatefulSet":
			m.workloads = append(m.workloads, o)
		}
	}
	return m
}

// workload returns the named Deployment or StatefulSet.
func (m *manifests) workload(t *testing.T, n string) obj {
	t.Helper()
	for _, w := range m.workloads {
		if name(w) == n {
			return w
		}
	}
	t.Fatalf("no workload %s", n)
	return nil
}

// configMapData returns a generated ConfigMap's key by the generator's
// name (kustomize appends a hash).
func (m *manifests) configMapData(t *testing.T, generator, key string) string {
	t.Helper()
	for n, cm := range m.configMaps {
		if n == generator || strings.HasPrefix(n, generator+"-") && len(n) == len(generator)+11 {
			if d := str(cm, "data", key); d != "" {
				return d
			}
		}
	}
	t.Fatalf("no ConfigMap %s with %s", generator, key)
	return ""
}

func secretHas(s obj, key string) bool {
	return at(s, "stringData", key) != nil || at(s, "data", key) != nil
}

// TestKubernetesManifests renders deploy/kubernetes and holds every
// workload to what the services need and what docs/deploy.md promises:
// each ConfigMap, Secret and key it refers to exists, each mount has a
// volume, each $(VAR) is defined before it is used, every container runs
// unprivileged on a read-only root, every service's probes and metrics go
// through an ops sidecar on 9112 whose target is the service's own
// loopback listener, and every Service selects pods and names their ports.
func TestKubernetesManifests(t *testing.T) {
	m := load(t)
	want := []string{"alerting", "collector", "console", "influxproxy"}
	var got []string
	for _, w := range m.workloads {
		got = append(got, name(w))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("workloads %v, want %v", got, want)
	}
	for _, w := range m.workloads {
		t.Run(name(w), func(t *testing.T) { checkWorkload(t, m, w) })
	}
	for _, s := range m.services {
		checkService(t, m, s)
	}
}

func checkWorkload(t *testing.T, m *manifests, w obj) {
	pod := at(w, "spec", "template", "spec")
	if str(pod, "securityContext", "seccompProfile", "type") != "RuntimeDefault" || at(pod, "securityContext", "runAsNonRoot") != true {
		t.Error("the pod is not non-root with the RuntimeDefault seccomp profile")
	}
	labels, _ := at(w, "spec", "template", "metadata", "labels").(obj)
	for k, v := range at(w, "spec", "selector", "matchLabels").(obj) {
		if labels[k] != v {
			t.Errorf("selector %s=%v does not match the template's labels", k, v)
		}
	}
	volumes := map[string]obj{}
	for _, v := range list(pod, "volumes") {
		volumes[str(v, "name")] = v.(obj)
	}
	for _, c := range list(w, "spec", "volumeClaimTemplates") {
		volumes[str(c, "metadata", "name")] = obj{"claim": true}
	}
	for n, v := range volumes {
		checkVolume(t, m, n, v)
	}
	var ops obj
	main := list(pod, "containers")[0].(obj)
	for _, c := range list(pod, "containers") {
		c := c.(obj)
		if str(c, "name") == "ops" {
			ops = c
		}
		sc := at(c, "securityContext")
		if at(sc, "readOnlyRootFilesystem") != true || at(sc, "allowPrivilegeEscalation") != false || fmt.Sprint(at(sc, "capabilities", "drop")) != "[ALL]" {
			t.Errorf("container %s: not read-only, unprivileged, all capabilities dropped: %v", str(c, "name"), sc)
		}
		if at(c, "resources", "limits", "memory") == nil {
			t.Errorf("container %s has no memory limit", str(c, "name"))
		}
		for _, vm := range list(c, "volumeMounts") {
			if volumes[str(vm, "name")] == nil {
				t.Errorf("container %s mounts %s, which is no volume", str(c, "name"), str(vm, "name"))
			}
		}
		checkEnv(t, m, c)
	}
	if ops == nil {
		t.Fatal("no ops sidecar")
	}
	cmd := list(ops, "command")
	if len(cmd) != 5 || cmd[0] != "/usr/local/bin/cradlewatch-opsproxy" || cmd[1] != "-listen" || cmd[2] != ":9112" || cmd[3] != "-target" {
		t.Fatalf("ops sidecar command %v", cmd)
	}
	if host, _, err := net.SplitHostPort(cmd[4].(string)); err != nil || !net.ParseIP(host).IsLoopback() {
		t.Errorf("the ops sidecar's target %v is not the pod's loopback", cmd[4])
	}
	if str(ops, "image") != str(main, "image") {
		t.Errorf("the ops sidecar runs %s, not the service's image %s (which carries cradlewatch-opsproxy)", str(ops, "image"), str(main, "image"))
	}
	for _, probe := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
		if p := at(main, probe, "httpGet", "port"); p != 9112 {
			t.Errorf("%s goes to port %v, not the ops sidecar's 9112", probe, p)
		}
	}
	if str(w, "kind") == "StatefulSet" {
		headless := false
		for _, s := range m.services {
			headless = headless || name(s) == str(w, "spec", "serviceName") && str(s, "spec", "clusterIP") == "None"
		}
		if !headless {
			t.Errorf("serviceName %s is no headless Service", str(w, "spec", "serviceName"))
		}
	}
}

func checkVolume(t *testing.T, m *manifests, n string, v obj) {
	if cm := str(v, "configMap", "name"); cm != "" && m.configMaps[cm] == nil {
		t.Errorf("volume %s: no ConfigMap %s", n, cm)
	}
	if s := str(v, "secret", "secretName"); s != "" && m.secrets[s] == nil {
		t.Errorf("volume %s: no Secret %s", n, s)
	}
	for _, src := range list(v, "projected", "sources") {
		s := m.secrets[str(src, "secret", "name")]
		if s == nil {
			t.Errorf("volume %s: no Secret %s", n, str(src, "secret", "name"))
			continue
		}
		for _, it := range list(src, "secret", "items") {
			if !secretHas(s, str(it, "key")) {
				t.Errorf("volume %s: Secret %s has no key %s", n, name(s), str(it, "key"))
			}
		}
	}
	if mode, ok := at(v, "projected", "defaultMode").(int); ok && mode&0o007 != 0 {
		t.Errorf("volume %s: secrets readable by others (mode %o): the services refuse them", n, mode)
	}
	if mode, ok := at(v, "secret", "defaultMode").(int); ok && mode&0o007 != 0 {
		t.Errorf("volume %s: secrets readable by others (mode %o)", n, mode)
	}
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func checkEnv(t *testing.T, m *manifests, c obj) {
	defined := map[string]bool{}
	for _, e := range list(c, "env") {
		for _, ref := range varRef.FindAllStringSubmatch(str(e, "value"), -1) {
			if !defined[ref[1]] {
				t.Errorf("container %s: %s uses $(%s) before it is defined (Kubernetes would pass it literally)", str(c, "name"), str(e, "name"), ref[1])
			}
		}
		defined[str(e, "name")] = true
		if ref := at(e, "valueFrom", "secretKeyRef"); ref != nil {
			s := m.secrets[str(ref, "name")]
			if s == nil || !secretHas(s, str(ref, "key")) {
				t.Errorf("container %s: %s refers to Secret %s key %s, which does not exist", str(c, "name"), str(e, "name"), str(ref, "name"), str(ref, "key"))
			}
		}
	}
}

func checkService(t *testing.T, m *manifests, s obj) {
	sel, _ := at(s, "spec", "selector").(obj)
	var pods []obj
	for _, w := range m.workloads {
		labels, _ := at(w, "spec", "template", "metadata", "labels").(obj)
		match := len(sel) > 0
		for k, v := range sel {
			match = match && labels[k] == v
		}
		if match {
			pods = append(pods, w)
		}
	}
	if len(pods) != 1 {
		t.Errorf("Service %s selects %d workloads, want 1", name(s), len(pods))
		return
	}
	named := map[string]bool{}
	for _, c := range list(pods[0], "spec", "template", "spec", "containers") {
		for _, p := range list(c, "ports") {
			named[str(p, "name")] = true
		}
	}
	for _, p := range list(s, "spec", "ports") {
		if tp, ok := at(p, "targetPort").(string); ok && !named[tp] {
			t.Errorf("Service %s: targetPort %s is no container port of %s", name(s), tp, name(pods[0]))
		}
	}
}

// TestKubernetesServicesAgree holds the settings that must agree across
// files: the console addresses as many shards as the alerting StatefulSet
// runs; each console and alerting pod logs in to EMQX on the account of
// its name with the client ID of cwbroker's (cw-<pod>) and writes the
// audit chain of its name; the ops sidecars read the listeners the configs
// name; the console's people-facing port is the one its Service and
// Ingress use; the proxy reads the access database and only Grafana
// reaches it.
func TestKubernetesServicesAgree(t *testing.T) {
	m := load(t)
	alerting, console, proxy := m.workload(t, "alerting"), m.workload(t, "console"), m.workload(t, "influxproxy")
	env := func(w obj, n string) string {
		for _, e := range list(w, "spec", "template", "spec", "containers", 0, "env") {
			if str(e, "name") == n {
				return str(e, "value")
			}
		}
		return ""
	}
	var consoleCfg, proxyCfg, alertingCfg obj
	for cfg, src := range map[*obj][2]string{
		&consoleCfg:  {"cradlewatch-console-config", "console.yaml"},
		&proxyCfg:    {"cradlewatch-influxproxy-config", "influxproxy.yaml"},
		&alertingCfg: {"cradlewatch-alerting-config", "alerting.yaml"},
	} {
		if err := yaml.Unmarshal([]byte(m.configMapData(t, src[0], src[1])), cfg); err != nil {
			t.Fatalf("%s: %v", src[1], err)
		}
	}
	replicas := fmt.Sprint(at(alerting, "spec", "replicas"))
	if env(alerting, "CW_SHARD_COUNT") != replicas || fmt.Sprint(at(consoleCfg, "ctl", "shards")) != replicas {
		t.Errorf("alerting replicas %s, CW_SHARD_COUNT %s, the console's ctl.shards %v: must be equal",
			replicas, env(alerting, "CW_SHARD_COUNT"), at(consoleCfg, "ctl", "shards"))
	}
	for _, w := range []obj{alerting, console} {
		if env(w, "CW_MQTT_USERNAME") != "$(POD_NAME)" || env(w, "CW_MQTT_CLIENT_ID") != "cw-$(POD_NAME)" {
			t.Errorf("%s logs in as %q with client ID %q, want its pod's name and cw-<pod's name>", name(w), env(w, "CW_MQTT_USERNAME"), env(w, "CW_MQTT_CLIENT_ID"))
		}
		if str(w, "kind") != "StatefulSet" {
			t.Errorf("%s is a %s: its pod names (its broker account, its audit chain) must be stable", name(w), str(w, "kind"))
		}
	}
	if env(console, "CW_ACCESS_AUDIT_CHAIN") != "$(POD_NAME)" {
		t.Errorf("the console's audit chain is %q, want its pod's name", env(console, "CW_ACCESS_AUDIT_CHAIN"))
	}
	target := func(w obj) string {
		for _, c := range list(w, "spec", "template", "spec", "containers") {
			if str(c, "name") == "ops" {
				return str(c, "command", 4)
			}
		}
		return ""
	}
	for w, listen := range map[string][2]string{
		"console":     {target(console), str(consoleCfg, "ops", "listen")},
		"influxproxy": {target(proxy), str(proxyCfg, "http", "listen")},
		"alerting":    {target(alerting), str(alertingCfg, "http", "listen")},
	} {
		if listen[0] != listen[1] {
			t.Errorf("%s: the ops sidecar reads %s, the service listens on %s", w, listen[0], listen[1])
		}
	}
	_, port, _ := net.SplitHostPort(str(consoleCfg, "http", "listen"))
	if fmt.Sprint(at(console, "spec", "template", "spec", "containers", 0, "ports", 0, "containerPort")) != port {
		t.Errorf("the console listens on %s, its container port is %v", port, at(console, "spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"))
	}
	if str(proxyCfg, "users_source") != "access" || str(proxyCfg, "access", "database", "driver") != "postgres" {
		t.Errorf("the proxy does not read Grafana's logins from the access database: %v", proxyCfg)
	}
	var policy obj
	for _, o := range m.all {
		if str(o, "kind") == "NetworkPolicy" && name(o) == "influxproxy" {
			policy = o
		}
	}
	if policy == nil || str(policy, "spec", "podSelector", "matchLabels", "app.kubernetes.io/name") != "influxproxy" ||
		str(policy, "spec", "ingress", 0, "from", 0, "podSelector", "matchLabels", "app.kubernetes.io/name") != "grafana" ||
		fmt.Sprint(at(policy, "spec", "ingress", 0, "ports", 0, "port")) != fmt.Sprint(at(proxy, "spec", "template", "spec", "containers", 0, "ports", 0, "containerPort")) {
		t.Errorf("the proxy's port is not closed to all but Grafana: %v", policy)
	}
	for _, rule := range list(policy, "spec", "ingress")[1:] {
		for _, p := range list(rule, "ports") {
			if at(p, "port") != 9112 {
				t.Errorf("the proxy's NetworkPolicy opens port %v to everyone", at(p, "port"))
			}
		}
	}
}
