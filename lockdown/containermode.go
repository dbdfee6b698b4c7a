package lockdown

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Container modes of an ARC scale set. ARC's chart value containerMode
// rewrites the pod template and is not stored in the AutoscalingRunnerSet,
// so DetectContainerMode recovers it from the template.
const (
	// ContainerModeDefault runs job steps in the runner container.
	ContainerModeDefault = "default"
	// ContainerModeDind runs a docker:dind container next to the runner;
	// job containers run on its bridge network inside the runner pod.
	ContainerModeDind = "dind"
	// ContainerModeKubernetes runs job and step containers in separate
	// pods that runner-container-hooks create through the API server.
	ContainerModeKubernetes = "kubernetes"
)

// envContainerHooks is the runner variable that points at
// runner-container-hooks; ARC's chart sets it in kubernetes mode (and in
// kubernetes-novolume mode, which has the same network needs).
const envContainerHooks = "ACTIONS_RUNNER_CONTAINER_HOOKS"

// DetectContainerMode returns ContainerModeKubernetes when a container of
// the template sets ACTIONS_RUNNER_CONTAINER_HOOKS, ContainerModeDind when
// an init or regular container runs a docker image with a "dind" tag (for
// example docker:dind or docker.io/library/docker:27-dind), and
// ContainerModeDefault otherwise. Kubernetes mode wins when both match,
// because it is the mode whose job pods need their own NetworkPolicy.
func DetectContainerMode(template corev1.PodTemplateSpec) string {
	all := make([]corev1.Container, 0, len(template.Spec.InitContainers)+len(template.Spec.Containers))
	all = append(all, template.Spec.InitContainers...)
	all = append(all, template.Spec.Containers...)

	for _, c := range all {
		for _, env := range c.Env {
			if env.Name == envContainerHooks {
				return ContainerModeKubernetes
			}
		}
	}
	for _, c := range all {
		if isDindImage(c.Image) {
			return ContainerModeDind
		}
	}
	return ContainerModeDefault
}

// isDindImage reports whether an image reference names the docker image
// (any registry, optionally under library/) with a tag containing "dind".
func isDindImage(image string) bool {
	ref := strings.TrimSpace(image)
	if at := strings.IndexByte(ref, '@'); at >= 0 {
		ref = ref[:at]
	}
	repo, tag := ref, ""
	if colon := strings.LastIndexByte(ref, ':'); colon > strings.LastIndexByte(ref, '/') {
		repo, tag = ref[:colon], ref[colon+1:]
	}
	name := repo[strings.LastIndexByte(repo, '/')+1:]
	return name == "docker" && strings.Contains(tag, "dind")
}
