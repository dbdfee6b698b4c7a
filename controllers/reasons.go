package controllers

// Reasons of ScaleSetEgress conditions. Events reuse the reason of the
// condition they report.
const (
	// ReasonApplied: the rendered objects of the effective profile are in
	// the cluster (Ready=True).
	ReasonApplied = "Applied"
	// ReasonApplyFailed: the API server rejected a write; the objects
	// applied before stay (Ready=False).
	ReasonApplyFailed = "ApplyFailed"
	// ReasonRenderFailed: the profile could not be rendered into objects;
	// the objects applied before stay (Ready=False).
	ReasonRenderFailed = "RenderFailed"
	// ReasonNoPolicySelected: no EgressPolicy selects the scale set, so
	// arc-lockdown removed what it had applied for it (Ready=False).
	ReasonNoPolicySelected = "NoPolicySelected"

	// ReasonFetched: GitHub returned the file, a 404 or a 304
	// (ConfigFetched=True).
	ReasonFetched = "Fetched"
	// ReasonFetchFailed: GitHub could not be read; the last applied profile
	// stays (ConfigFetched=False).
	ReasonFetchFailed = "FetchFailed"
	// ReasonRateLimited: GitHub's rate limit is exhausted until its reset
	// time; the last applied profile stays (ConfigFetched=False).
	ReasonRateLimited = "RateLimited"
	// ReasonInvalidConfigURL: spec.githubConfigUrl names no GitHub
	// repository, organization or enterprise (ConfigFetched=False).
	ReasonInvalidConfigURL = "InvalidConfigURL"
	// ReasonNotFetchedYet: the policy's no-file profile is applied while
	// GitHub has not been read (ConfigFetched=Unknown).
	ReasonNotFetchedYet = "NotFetchedYet"

	// ReasonConfigValid: the repository file parsed and was bounded by the
	// policy (ConfigValid=True).
	ReasonConfigValid = "Valid"
	// ReasonFileNotFound: the repository has no egress file, so the
	// policy's no-file profile is in force (ConfigValid=True).
	ReasonFileNotFound = "FileNotFound"
	// ReasonConfigInvalid: the repository file does not parse or breaks a
	// rule; the last good profile stays (ConfigValid=False).
	ReasonConfigInvalid = "Invalid"

	// ReasonEntriesDropped is the reason of the Event that lists requested
	// entries the policy left out.
	ReasonEntriesDropped = "EntriesDropped"
	// ReasonPruned is the reason of the Event that counts objects removed
	// because the profile no longer renders them.
	ReasonPruned = "Pruned"
)

// Reasons of the Warning Events for configurations that weaken or defeat
// the lockdown. They are kept in ScaleSetEgress status.warnings too.
const (
	// ReasonDindWithoutReroute: traffic of containers on the docker bridge
	// is forwarded, not sent by the pod's own processes, so the Istio
	// sidecar does not capture it without the annotation
	// istio.io/reroute-virtual-interfaces: docker0. NetworkPolicy still
	// applies.
	ReasonDindWithoutReroute = "DindWithoutReroute"
	// ReasonNoSidecar: runner pods of the scale set get no Istio sidecar,
	// so only the NetworkPolicies restrict them and no access log reports
	// blocked destinations.
	ReasonNoSidecar = "NoSidecar"
	// ReasonOrganizationScaleSet: an organization or enterprise scale set
	// runs jobs of many repositories, and its runner pods start before a
	// job (and its repository) is known.
	ReasonOrganizationScaleSet = "OrganizationScaleSet"
)

// Annotations arc-lockdown reads on runner pod templates and namespaces.
const (
	// annotationSidecarInject disables (or enables) Istio's sidecar
	// injection for a pod when set to "false" (or "true"), as a label or,
	// in older Istio releases, an annotation.
	annotationSidecarInject = "sidecar.istio.io/inject"
	// labelIstioInjection enables injection for a namespace when "enabled".
	labelIstioInjection = "istio-injection"
	// labelIstioRevision enables injection by an Istio revision.
	labelIstioRevision = "istio.io/rev"
)

// annotationAppliedHash is set on every applied object to a hash of the
// applied content, so that an unchanged profile causes no write and a
// field dropped from the profile still causes one.
const annotationAppliedHash = "egress.arc-lockdown.io/applied-hash"
