package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Object is one resource of a built overlay: its identity, its JSON as
// Kustomize wrote it, and that JSON decoded strictly into its Go type.
type Object struct {
	APIVersion, Kind, Name, Namespace string
	JSON                              []byte
	Value                             any
}

func (o Object) String() string { return o.Kind + "/" + o.Name }

// Build runs Kustomize over dir (an overlay) on the real file system, as
// kubectl apply -k would, and returns its resources undecoded.
func Build(dir string) ([]Object, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var out []Object
	for _, r := range m.Resources() {
		js, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		out = append(out, Object{APIVersion: r.GetApiVersion(), Kind: r.GetKind(), Name: r.GetName(), Namespace: r.GetNamespace(), JSON: js})
	}
	return out, nil
}

// newTyped returns a pointer to the Go type of a kind this deployment may
// use: the Kubernetes types for built-in kinds, the local structs of
// crds.go for the custom resources.
func newTyped(apiVersion, kind string) (any, bool) {
	switch apiVersion + " " + kind {
	case "v1 Namespace":
		return &corev1.Namespace{}, true
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "v1 Service":
		return &corev1.Service{}, true
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, true
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "keda.sh/v1alpha1 ScaledObject":
		return &ScaledObject{}, true
	case "keda.sh/v1alpha1 TriggerAuthentication":
		return &TriggerAuthentication{}, true
	case "monitoring.coreos.com/v1 ServiceMonitor":
		return &ServiceMonitor{}, true
	case "monitoring.coreos.com/v1 PrometheusRule":
		return &PrometheusRule{}, true
	case "kafka.strimzi.io/v1beta2 KafkaTopic":
		return &KafkaTopic{}, true
	}
	return nil, false
}

// Decode decodes every object strictly: a field its type does not have
// (a typo, a field of another version) is an error, as is a kind the
// deployment has no business with (a Secret, whose data would be inlined).
func Decode(objs []Object) ([]Object, []error) {
	var errs []error
	out := make([]Object, 0, len(objs))
	for _, o := range objs {
		v, ok := newTyped(o.APIVersion, o.Kind)
		if !ok {
			if o.Kind == "Secret" {
				errs = append(errs, fmt.Errorf("%s: a Secret in the manifests: reference Secrets the cluster holds (secretKeyRef, secret volumes), never inline them", o))
				continue
			}
			errs = append(errs, fmt.Errorf("%s: kind %s %s is not one the check knows (add its type to check/build.go)", o, o.APIVersion, o.Kind))
			continue
		}
		if err := strictJSON(o.JSON, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o, err))
			continue
		}
		o.Value = v
		out = append(out, o)
	}
	return out, errs
}

func strictJSON(js []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("does not decode strictly: %w", err)
	}
	return nil
}
