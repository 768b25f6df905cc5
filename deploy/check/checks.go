package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/logstream/logstream/sinks"
	"github.com/logstream/logstream/topology"
)

// Want is what an overlay must hold beyond the base.
type Want struct {
	// Autoscaling: a KEDA ScaledObject for every Deployment whose consumer
	// groups can spread over pods.
	Autoscaling bool
	// Rules: a PrometheusRule.
	Rules bool
	// TopicsFile: the committed KafkaTopics, which must be what the binary
	// generates from the overlay's config ("" for none).
	TopicsFile string
}

// Checker checks built overlays against the binary and the topology.
type Checker struct {
	Bin *Binary
	// Promtool runs `promtool check rules`; "" skips it.
	Promtool string
	// Metrics are the names the binary exports (ExportedMetrics).
	Metrics map[string]bool
	// TempDir receives the files handed to the binary and promtool.
	TempDir string
	// Notes are what the tools said when they agreed (promtool's summary).
	Notes []string
}

// The settings file as the pods mount it, and what the binary needs to
// stop cleanly: the sinks flush for up to their revoke timeout, then
// commit; the admin port closes within 5 s.
const (
	configKey = "config.yaml"
	minGrace  = sinks.DefaultRevokeTimeout + 10*time.Second
	irsaKey   = "eks.amazonaws.com/role-arn"
)

// pathSettings are settings naming files or directories the pod must
// have: each must lie on one of the container's volumes.
var pathSettings = []string{"kafka-tls-ca", "kafka-tls-cert", "kafka-tls-key", "kafka-sasl-password-file", "kafka-sasl-token-file", "rules", "state-dir"}

// secretEnv are environment variables that hold credentials: they must
// come from a Secret, never be written into the manifest.
var secretEnv = regexp.MustCompile(`(PASSWORD|TOKEN|SECRET|ROUTING_KEY|_KEY)$`)

// deployment is what the checks learn about one Deployment.
type deployment struct {
	obj      Object
	d        *appsv1.Deployment
	command  string
	stages   []string
	groups   []string
	scalable bool // its consumer groups' input spreads over partitions
}

type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// Overlay checks the objects of one built overlay; it returns what is wrong.
func (c *Checker) Overlay(raw []Object, want Want) []string {
	var p problems
	objs, errs := Decode(raw)
	for _, err := range errs {
		p.addf("%v", err)
	}
	byKind := map[string][]Object{}
	for _, o := range objs {
		byKind[o.Kind] = append(byKind[o.Kind], o)
	}

	// One namespace holds everything.
	ns := ""
	if nss := byKind["Namespace"]; len(nss) != 1 {
		p.addf("want one Namespace, found %d", len(nss))
	} else {
		ns = nss[0].Name
	}
	for _, o := range objs {
		if o.Kind != "Namespace" && o.Namespace != ns {
			p.addf("%s: namespace %q, not the overlay's %q", o, o.Namespace, ns)
		}
	}

	// The settings file.
	cfg, cm, cfgFile := c.config(byKind["ConfigMap"], &p)
	if cfg == nil {
		return p
	}
	tc := topology.DefaultConfig()
	if v, ok := cfg["partitions"]; ok {
		tc.Partitions, _ = strconv.Atoi(v)
	}
	if v, ok := cfg["replication"]; ok {
		tc.Replication, _ = strconv.Atoi(v)
	}
	topo, err := topology.New(tc)
	if err != nil {
		p.addf("ConfigMap/%s: %v", cm, err)
		return p
	}
	adminPort := 0
	if _, port, err := net.SplitHostPort(cfg["admin-addr"]); err != nil {
		p.addf("ConfigMap/%s: admin-addr %q: the probes and metrics need the admin port on the pod's address (e.g. \":9464\")", cm, cfg["admin-addr"])
	} else if adminPort, _ = strconv.Atoi(port); adminPort == 0 {
		p.addf("ConfigMap/%s: admin-addr %q has no fixed port", cm, cfg["admin-addr"])
	}

	sas := map[string]*corev1.ServiceAccount{}
	for _, o := range byKind["ServiceAccount"] {
		sas[o.Name] = o.Value.(*corev1.ServiceAccount)
	}
	var deps []*deployment
	for _, o := range byKind["Deployment"] {
		if d := c.deployment(o, cfg, cm, adminPort, topo, sas, &p); d != nil {
			deps = append(deps, d)
		}
	}
	c.coverage(deps, topo, &p)
	c.disruption(deps, byKind["PodDisruptionBudget"], &p)
	c.monitoring(deps, byKind["Service"], byKind["ServiceMonitor"], adminPort, &p)
	if want.Autoscaling {
		c.autoscaling(deps, byKind["ScaledObject"], byKind["TriggerAuthentication"], cfg, topo, &p)
	}
	if want.TopicsFile != "" {
		c.topics(byKind["KafkaTopic"], cfgFile, want.TopicsFile, &p)
	}
	if want.Rules {
		c.rules(byKind["PrometheusRule"], &p)
	}
	return p
}

// config finds the settings file, hands it to the binary (which refuses a
// key that is no setting) and returns its values as strings.
func (c *Checker) config(cms []Object, p *problems) (map[string]string, string, string) {
	var found []Object
	for _, o := range cms {
		if _, ok := o.Value.(*corev1.ConfigMap).Data[configKey]; ok {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		p.addf("want one ConfigMap with %s, found %d", configKey, len(found))
		return nil, "", ""
	}
	cm := found[0]
	text := cm.Value.(*corev1.ConfigMap).Data[configKey]
	var raw map[string]any
	if err := yaml.Unmarshal([]byte(text), &raw); err != nil {
		p.addf("%s: %s is not YAML: %v", cm, configKey, err)
		return nil, "", ""
	}
	cfg := map[string]string{}
	for k, v := range raw {
		switch t := v.(type) {
		case []any:
			parts := make([]string, len(t))
			for i, x := range t {
				parts[i] = fmt.Sprint(x)
			}
			cfg[k] = strings.Join(parts, ",")
		case nil:
			cfg[k] = ""
		default:
			cfg[k] = fmt.Sprint(t)
		}
	}
	file := filepath.Join(c.TempDir, cm.Name+"-"+configKey)
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		p.addf("%v", err)
		return nil, "", ""
	}
	// topology describe reads the whole file: an unknown key fails it.
	if _, err := c.Bin.Strimzi(file); err != nil {
		p.addf("%s: the binary refuses %s: %v", cm, configKey, err)
		return nil, "", ""
	}
	return cfg, cm.Name, file
}

// parseArgs splits a container's arguments into the command's words and
// its flags (--name value, --name=value, or a boolean --name).
func parseArgs(args []string, cmdOf func(string) (*Command, error)) (*Command, map[string]string, error) {
	i := 0
	for i < len(args) && !strings.HasPrefix(args[i], "-") {
		i++
	}
	if i == 0 {
		return nil, nil, errors.New("the arguments name no command")
	}
	cmd, err := cmdOf(strings.Join(args[:i], " "))
	if err != nil {
		return nil, nil, err
	}
	flags := map[string]string{}
	for ; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			return nil, nil, fmt.Errorf("argument %q is no flag (logstream %s takes no positional arguments here)", a, cmd.Name)
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		isBool, ok := cmd.Flags[name]
		if !ok {
			return nil, nil, fmt.Errorf("logstream %s has no flag --%s", cmd.Name, name)
		}
		if !hasVal && !isBool {
			if i+1 >= len(args) {
				return nil, nil, fmt.Errorf("--%s has no value", name)
			}
			i++
			val = args[i]
		}
		flags[name] = val
	}
	return cmd, flags, nil
}

func (c *Checker) deployment(o Object, cfg map[string]string, cm string, adminPort int, topo *topology.Topology, sas map[string]*corev1.ServiceAccount, p *problems) *deployment {
	d := o.Value.(*appsv1.Deployment)
	spec := d.Spec.Template.Spec
	if d.Spec.Selector == nil || !subset(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		p.addf("%s: the selector does not match the pod template's labels", o)
	}
	if len(spec.Containers) != 1 {
		p.addf("%s: want one container, found %d", o, len(spec.Containers))
		return nil
	}
	ct := spec.Containers[0]
	if len(ct.Command) > 0 {
		p.addf("%s: command overrides the image's entrypoint; give the logstream command as args", o)
	}
	cmd, flags, err := parseArgs(ct.Args, c.Bin.Command)
	if err != nil {
		p.addf("%s: args %q: %v", o, ct.Args, err)
		return nil
	}
	dep := &deployment{obj: o, d: d, command: cmd.Name}

	// The settings file, mounted from the ConfigMap.
	if file := flags["config"]; file == "" {
		p.addf("%s: no --config: the pod would ignore the ConfigMap", o)
	} else if !mountsConfig(ct, spec.Volumes, file, cm) {
		p.addf("%s: --config %s is not %s of ConfigMap %s mounted in the container", o, file, configKey, cm)
	}
	for _, key := range pathSettings {
		if _, known := cmd.Flags[key]; !known || cfg[key] == "" {
			continue
		}
		if !onVolume(ct, cfg[key]) {
			p.addf("%s: %s %s is on no volume of the container", o, key, cfg[key])
		}
	}

	// Environment: settings the command knows; secrets only by reference.
	for _, e := range ct.Env {
		if strings.HasPrefix(e.Name, "LOGSTREAM_") && !cmd.Env[e.Name] {
			p.addf("%s: logstream %s reads no %s", o, cmd.Name, e.Name)
		}
		if secretEnv.MatchString(e.Name) && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			p.addf("%s: %s must come from a Secret (valueFrom.secretKeyRef), not the manifest", o, e.Name)
		}
	}
	if len(ct.EnvFrom) > 0 {
		p.addf("%s: envFrom hides which settings the pod gets; name each variable", o)
	}

	// Probes and the admin port.
	if adminPort != 0 {
		hasPort := false
		for _, cp := range ct.Ports {
			hasPort = hasPort || int(cp.ContainerPort) == adminPort
		}
		if !hasPort {
			p.addf("%s: no container port %d (admin-addr)", o, adminPort)
		}
		for _, pr := range []struct {
			name, path string
			probe      *corev1.Probe
		}{{"readinessProbe", "/readyz", ct.ReadinessProbe}, {"livenessProbe", "/healthz", ct.LivenessProbe}} {
			if pr.probe == nil || pr.probe.HTTPGet == nil {
				p.addf("%s: no %s (HTTP GET %s on the admin port)", o, pr.name, pr.path)
				continue
			}
			if pr.probe.HTTPGet.Path != pr.path || portNumber(ct, pr.probe.HTTPGet.Port) != adminPort {
				p.addf("%s: %s is GET %s on port %s, want %s on %d", o, pr.name, pr.probe.HTTPGet.Path, pr.probe.HTTPGet.Port.String(), pr.path, adminPort)
			}
		}
	}
	if ct.Resources.Requests.Cpu().IsZero() || ct.Resources.Requests.Memory().IsZero() || ct.Resources.Limits.Memory().IsZero() {
		p.addf("%s: want CPU and memory requests and a memory limit (--memory-limit auto takes 90%% of it)", o)
	}
	if g := spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second < minGrace {
		p.addf("%s: terminationGracePeriodSeconds must be at least %s for the SIGTERM hand-off", o, minGrace)
	}
	nonRoot := spec.SecurityContext != nil && spec.SecurityContext.RunAsNonRoot != nil && *spec.SecurityContext.RunAsNonRoot
	if ct.SecurityContext != nil && ct.SecurityContext.RunAsNonRoot != nil {
		nonRoot = *ct.SecurityContext.RunAsNonRoot
	}
	if !nonRoot {
		p.addf("%s: runAsNonRoot is not set", o)
	}
	sa, ok := sas[spec.ServiceAccountName]
	if !ok {
		p.addf("%s: serviceAccountName %q is no ServiceAccount of the overlay", o, spec.ServiceAccountName)
	}

	// What it runs: its stages and consumer groups.
	switch cmd.Name {
	case "run":
		list, ok := flags["stages"]
		if !ok {
			p.addf("%s: logstream run without --stages runs every stage in one pod", o)
			return nil
		}
		for _, name := range strings.Split(list, ",") {
			st, ok := topo.Stage(strings.TrimSpace(name))
			if !ok || st.Combiner {
				p.addf("%s: --stages names %q, which is no stage of the topology", o, name)
				continue
			}
			dep.stages = append(dep.stages, st.Name)
			dep.groups = append(dep.groups, st.Group)
			for _, other := range topo.Stages() {
				if other.Combiner && other.Part == st.Name {
					dep.groups = append(dep.groups, other.Group)
				}
			}
			if st.Key != topology.FleetKey {
				dep.scalable = true
			}
		}
	case "page":
		dep.groups = []string{topology.GroupPage}
		alerts, _ := topo.Topic(topology.TopicAlerts)
		dep.scalable = alerts.Key != topology.FleetKey
	case "sink s3":
		dep.groups, dep.scalable = []string{topology.GroupSinkS3}, true
		if sa != nil && sa.Annotations[irsaKey] == "" {
			p.addf("%s: ServiceAccount %s has no %s annotation (IRSA) for the S3 writer's credentials", o, sa.Name, irsaKey)
		}
	case "sink openobserve":
		dep.groups, dep.scalable = []string{topology.GroupSinkOpenObserve}, true
	default:
		p.addf("%s: logstream %s is not a command to deploy", o, cmd.Name)
		return nil
	}
	return dep
}

// coverage: every stage runs in exactly one Deployment, and page and both
// sinks have one each.
func (c *Checker) coverage(deps []*deployment, topo *topology.Topology, p *problems) {
	where := map[string][]string{}
	for _, d := range deps {
		for _, s := range d.stages {
			where["stage "+s] = append(where["stage "+s], d.obj.Name)
		}
		if d.command != "run" {
			where[d.command] = append(where[d.command], d.obj.Name)
		}
	}
	want := []string{"page", "sink s3", "sink openobserve"}
	for _, st := range topo.Stages() {
		if !st.Combiner {
			want = append(want, "stage "+st.Name)
		}
	}
	for _, w := range want {
		if n := len(where[w]); n != 1 {
			p.addf("%s runs in %d Deployments %v, want exactly one", w, n, where[w])
		}
	}
}

func (c *Checker) disruption(deps []*deployment, pdbs []Object, p *problems) {
	for _, d := range deps {
		found := false
		for _, o := range pdbs {
			b := o.Value.(*policyv1.PodDisruptionBudget)
			if b.Spec.Selector != nil && len(b.Spec.Selector.MatchLabels) > 0 && subset(b.Spec.Selector.MatchLabels, d.d.Spec.Template.Labels) {
				found = true
				if b.Spec.MaxUnavailable == nil && b.Spec.MinAvailable == nil {
					p.addf("%s: neither maxUnavailable nor minAvailable", o)
				}
			}
		}
		if !found {
			p.addf("%s: no PodDisruptionBudget selects its pods", d.obj)
		}
	}
}

func (c *Checker) monitoring(deps []*deployment, svcs, monitors []Object, adminPort int, p *problems) {
	var metricsSvc *corev1.Service
	portName := ""
	for _, o := range svcs {
		s := o.Value.(*corev1.Service)
		all := len(s.Spec.Selector) > 0
		for _, d := range deps {
			all = all && subset(s.Spec.Selector, d.d.Spec.Template.Labels)
		}
		for _, sp := range s.Spec.Ports {
			admin := sp.TargetPort.String() == "admin" || sp.TargetPort.IntValue() == adminPort
			if all && admin {
				metricsSvc, portName = s, sp.Name
			}
		}
	}
	if metricsSvc == nil {
		p.addf("no Service selects every logstream pod on the admin port")
		return
	}
	ok := false
	for _, o := range monitors {
		m := o.Value.(*ServiceMonitor)
		if !subset(m.Spec.Selector.MatchLabels, metricsSvc.Labels) {
			continue
		}
		for _, ep := range m.Spec.Endpoints {
			if ep.Port == portName && (ep.Path == "" || ep.Path == "/metrics") {
				ok = true
			}
		}
	}
	if !ok {
		p.addf("no ServiceMonitor scrapes /metrics on port %q of Service %s", portName, metricsSvc.Name)
	}
}

func (c *Checker) autoscaling(deps []*deployment, sos, auths []Object, cfg map[string]string, topo *topology.Topology, p *problems) {
	authNames := map[string]bool{}
	for _, o := range auths {
		authNames[o.Name] = true
		for _, ref := range o.Value.(*TriggerAuthentication).Spec.SecretTargetRef {
			if !kafkaAuthParameters[ref.Parameter] {
				p.addf("%s: %q is no parameter of KEDA's Kafka scaler", o, ref.Parameter)
			}
		}
	}
	byTarget := map[string][]Object{}
	for _, o := range sos {
		byTarget[o.Value.(*ScaledObject).Spec.ScaleTargetRef.Name] = append(byTarget[o.Value.(*ScaledObject).Spec.ScaleTargetRef.Name], o)
	}
	for _, d := range deps {
		objs := byTarget[d.obj.Name]
		delete(byTarget, d.obj.Name)
		switch {
		case !d.scalable && len(objs) > 0:
			p.addf("%s: scaled by %s, but its input is keyed by %s (one partition): more pods have nothing to read", d.obj, objs[0], topology.FleetKey)
			continue
		case !d.scalable:
			continue
		case len(objs) != 1:
			p.addf("%s: want one ScaledObject, found %d", d.obj, len(objs))
			continue
		}
		o := objs[0]
		so := o.Value.(*ScaledObject)
		if so.Spec.MaxReplicaCount == nil || int(*so.Spec.MaxReplicaCount) != topo.Config().Partitions {
			p.addf("%s: maxReplicaCount must be the partitions (%d): a group gives each partition to one pod", o, topo.Config().Partitions)
		}
		if so.Spec.MinReplicaCount == nil || *so.Spec.MinReplicaCount < 1 {
			p.addf("%s: minReplicaCount must be at least 1 (a stateful group scaled to zero recovers its tables at every wake)", o)
		}
		var groups []string
		for _, tr := range so.Spec.Triggers {
			if tr.Type != "kafka" {
				p.addf("%s: trigger type %q, want kafka (consumer lag)", o, tr.Type)
				continue
			}
			for k := range tr.Metadata {
				if !kafkaTriggerMetadata[k] {
					p.addf("%s: %q is no metadata of KEDA's Kafka scaler", o, k)
				}
			}
			groups = append(groups, tr.Metadata["consumerGroup"])
			if b := tr.Metadata["bootstrapServers"]; b != cfg["brokers"] {
				p.addf("%s: bootstrapServers %q, the pods connect to %q", o, b, cfg["brokers"])
			}
			if tr.AuthenticationRef == nil || !authNames[tr.AuthenticationRef.Name] {
				p.addf("%s: the trigger's authenticationRef names no TriggerAuthentication of the overlay", o)
			}
		}
		sort.Strings(groups)
		want := slices.Sorted(slices.Values(d.groups))
		if !slices.Equal(groups, want) {
			p.addf("%s: triggers on consumer groups %v, the pods run %v", o, groups, want)
		}
	}
	for target, objs := range byTarget {
		p.addf("%s: scales %s, which is no Deployment of the overlay", objs[0], target)
	}
}

// topics: the committed KafkaTopics are the generator's output, and the
// built ones (the cluster label added) declare the same topics.
func (c *Checker) topics(kts []Object, cfgFile, committedFile string, p *problems) {
	gen, err := c.Bin.Strimzi(cfgFile)
	if err != nil {
		p.addf("%v", err)
		return
	}
	committed, err := os.ReadFile(committedFile)
	if err != nil {
		p.addf("%v", err)
		return
	}
	if !bytes.Equal(committed, gen) {
		p.addf("%s differs from 'logstream topology describe --format strimzi' over the overlay's config: run make deploy-topics", committedFile)
	}
	want, err := decodeKafkaTopics(gen)
	if err != nil {
		p.addf("the generated KafkaTopics: %v", err)
		return
	}
	got := map[string]KafkaTopicSpec{}
	for _, o := range kts {
		kt := o.Value.(*KafkaTopic)
		got[kt.Spec.TopicName] = kt.Spec
		if kt.Metadata.Labels["strimzi.io/cluster"] == "" {
			p.addf("%s: no strimzi.io/cluster label: the Topic Operator ignores it", o)
		}
	}
	for _, w := range want {
		g, ok := got[w.Spec.TopicName]
		delete(got, w.Spec.TopicName)
		if !ok {
			p.addf("topic %s has no KafkaTopic", w.Spec.TopicName)
			continue
		}
		if fmt.Sprint(g) != fmt.Sprint(w.Spec) {
			p.addf("KafkaTopic %s declares %+v, the topology wants %+v", w.Spec.TopicName, g, w.Spec)
		}
	}
	for name := range got {
		p.addf("KafkaTopic %s is no topic of the topology", name)
	}
}

func decodeKafkaTopics(b []byte) ([]KafkaTopic, error) {
	var out []KafkaTopic
	for _, doc := range strings.Split(string(b), "\n---\n") {
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return nil, err
		}
		if string(js) == "null" {
			continue // the header comment
		}
		var kt KafkaTopic
		if err := strictJSON(js, &kt); err != nil {
			return nil, err
		}
		out = append(out, kt)
	}
	return out, nil
}

var metricName = regexp.MustCompile(`\blogstream_[a-z0-9_]+`)

// rules: every metric an alert reads is one the binary exports, and
// promtool accepts the groups.
func (c *Checker) rules(objs []Object, p *problems) {
	if len(objs) == 0 {
		p.addf("no PrometheusRule")
	}
	for _, o := range objs {
		pr := o.Value.(*PrometheusRule)
		for _, g := range pr.Spec.Groups {
			for _, r := range g.Rules {
				for _, name := range metricName.FindAllString(r.Expr, -1) {
					if !c.Metrics[baseMetric(name)] {
						p.addf("%s: rule %s reads %s, which the binary does not export", o, r.Alert+r.Record, name)
					}
				}
			}
		}
		if c.Promtool == "" {
			continue
		}
		js, _ := yaml.Marshal(map[string]any{"groups": pr.Spec.Groups})
		file := filepath.Join(c.TempDir, o.Name+"-rules.yaml")
		if err := os.WriteFile(file, js, 0o600); err != nil {
			p.addf("%v", err)
			continue
		}
		cmd := exec.Command(c.Promtool, "check", "rules", file)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			p.addf("%s: promtool check rules: %v\n%s", o, err, out.String())
		} else {
			c.Notes = append(c.Notes, fmt.Sprintf("%s: promtool check rules: %s", o, strings.Join(strings.Fields(out.String()), " ")))
		}
	}
}

// baseMetric strips the suffixes a histogram or summary adds to its name.
func baseMetric(name string) string {
	for _, s := range []string{"_bucket", "_sum", "_count"} {
		if b, ok := strings.CutSuffix(name, s); ok && !strings.HasSuffix(name, "_total") {
			return b
		}
	}
	return name
}

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func mountsConfig(ct corev1.Container, vols []corev1.Volume, file, cm string) bool {
	if path.Base(file) != configKey {
		return false
	}
	for _, m := range ct.VolumeMounts {
		if m.MountPath != path.Dir(file) || m.SubPath != "" {
			continue
		}
		for _, v := range vols {
			if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm && len(v.ConfigMap.Items) == 0 {
				return true
			}
		}
	}
	return false
}

func onVolume(ct corev1.Container, file string) bool {
	for _, m := range ct.VolumeMounts {
		if file == m.MountPath || strings.HasPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/") {
			return true
		}
	}
	return false
}

func portNumber(ct corev1.Container, port intstr.IntOrString) int {
	if port.Type == intstr.Int {
		return port.IntValue()
	}
	for _, cp := range ct.Ports {
		if cp.Name == port.StrVal {
			return int(cp.ContainerPort)
		}
	}
	return 0
}
