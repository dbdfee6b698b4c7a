package accesslog

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// Options bound the Reporter's memory and GitHub traffic. Zero fields take
// the defaults of DefaultOptions.
type Options struct {
	// FlushInterval is how often changed jobs are written to GitHub.
	FlushInterval time.Duration
	// QueueSize is the number of entries waiting for attribution; entries
	// past it are dropped and counted.
	QueueSize int
	// MaxJobs is the number of jobs tracked at once; entries of further
	// jobs are dropped and counted.
	MaxJobs int
	// MaxDestinationsPerJob is the number of distinct host and port pairs
	// kept per job; further ones are only counted.
	MaxDestinationsPerJob int
	// MaxUpdatesPerJob caps the check-run writes for one job while it
	// runs. The write that completes the run is always sent, so a job
	// costs at most MaxUpdatesPerJob+1 writes and one workflow-run read.
	MaxUpdatesPerJob int
	// AttributionTTL is how long the job of a source IP is cached.
	AttributionTTL time.Duration
	// NegativeTTL is how long a source IP without a job (not a runner, an
	// idle runner, or a failed lookup) is cached. It is short because ARC
	// fills a runner's job fields only after the job has started, and the
	// job's first connections must not be dropped for long.
	NegativeTTL time.Duration
	// MaxCachedSources bounds that cache.
	MaxCachedSources int
	// CompletionCheckInterval is how often a tracked job's runner is
	// checked for having finished.
	CompletionCheckInterval time.Duration
	// MaxMetricDestinations is the number of distinct destination label
	// values of the blocked-connections counter.
	MaxMetricDestinations int
	// Clock returns the current time. Tests set it.
	Clock func() time.Time
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{
		FlushInterval:           3 * time.Second,
		QueueSize:               16384,
		MaxJobs:                 2000,
		MaxDestinationsPerJob:   100,
		MaxUpdatesPerJob:        30,
		AttributionTTL:          30 * time.Second,
		NegativeTTL:             2 * time.Second,
		MaxCachedSources:        8192,
		CompletionCheckInterval: 10 * time.Second,
		MaxMetricDestinations:   500,
		Clock:                   time.Now,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.FlushInterval <= 0 {
		o.FlushInterval = d.FlushInterval
	}
	if o.QueueSize <= 0 {
		o.QueueSize = d.QueueSize
	}
	if o.MaxJobs <= 0 {
		o.MaxJobs = d.MaxJobs
	}
	if o.MaxDestinationsPerJob <= 0 {
		o.MaxDestinationsPerJob = d.MaxDestinationsPerJob
	}
	if o.MaxUpdatesPerJob <= 0 {
		o.MaxUpdatesPerJob = d.MaxUpdatesPerJob
	}
	if o.AttributionTTL <= 0 {
		o.AttributionTTL = d.AttributionTTL
	}
	if o.NegativeTTL <= 0 {
		o.NegativeTTL = d.NegativeTTL
	}
	if o.MaxCachedSources <= 0 {
		o.MaxCachedSources = d.MaxCachedSources
	}
	if o.CompletionCheckInterval <= 0 {
		o.CompletionCheckInterval = d.CompletionCheckInterval
	}
	if o.MaxMetricDestinations <= 0 {
		o.MaxMetricDestinations = d.MaxMetricDestinations
	}
	if o.Clock == nil {
		o.Clock = d.Clock
	}
	return o
}

// maxFinalAttempts is how often the completing write of a job is tried
// before the job is given up.
const maxFinalAttempts = 3

// flushConcurrency is the number of jobs written to GitHub at once.
const flushConcurrency = 4

// Reporter attributes classified entries to jobs, keeps per-job state and
// writes one check run per job.
type Reporter struct {
	opts       Options
	attributor Attributor
	profiles   ProfileLookup
	publisher  Publisher
	metrics    *Metrics

	queue chan Entry

	mu      sync.Mutex
	jobs    map[string]*jobState
	sources map[netip.Addr]cachedSource
	profile map[string]cachedProfile
	// done holds the keys of jobs whose check run was completed, until
	// AttributionTTL has passed, so that late entries of a finished job do
	// not open its check run again.
	done map[string]time.Time
}

type cachedSource struct {
	key     string // job key; "" when the source has no job
	job     Job
	reason  string // drop reason when key is ""
	expires time.Time
}

type cachedProfile struct {
	profile ScaleSetProfile
	known   bool
	expires time.Time
}

type destinationKey struct {
	host string
	port uint32
}

type jobState struct {
	job          Job
	profile      ScaleSetProfile
	profileKnown bool

	destinations map[destinationKey]*destinationView
	order        []destinationKey
	annotated    int // order[:annotated] reached GitHub as annotations
	dropped      int64

	version   uint64 // bumped on every change worth a write
	published uint64 // version of the last successful write
	headSHA   string
	updates   int
	failures  int

	nextCompletionCheck time.Time
	finished            bool
	inFlight            bool
}

// NewReporter returns a Reporter. Start runs it.
func NewReporter(opts Options, attributor Attributor, profiles ProfileLookup, publisher Publisher, metrics *Metrics) *Reporter {
	opts = opts.withDefaults()
	return &Reporter{
		opts:       opts,
		attributor: attributor,
		profiles:   profiles,
		publisher:  publisher,
		metrics:    metrics,
		queue:      make(chan Entry, opts.QueueSize),
		jobs:       map[string]*jobState{},
		sources:    map[netip.Addr]cachedSource{},
		profile:    map[string]cachedProfile{},
		done:       map[string]time.Time{},
	}
}

// Submit queues an entry without blocking. It returns false, and counts
// the drop, when the queue is full.
func (r *Reporter) Submit(e Entry) bool {
	select {
	case r.queue <- e:
		return true
	default:
		r.metrics.drop(DropQueueFull)
		return false
	}
}

// Start ingests entries and flushes changed jobs every FlushInterval until
// ctx ends. It implements manager.Runnable.
func (r *Reporter) Start(ctx context.Context) error {
	log := logr.FromContextOrDiscard(ctx).WithName("accesslog")
	ctx = logr.NewContext(ctx, log)

	var wg sync.WaitGroup
	wg.Go(func() { r.ingest(ctx) })

	ticker := time.NewTicker(r.opts.FlushInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-ticker.C:
			r.Flush(ctx)
		}
	}
}

// NeedLeaderElection reports true: one replica writes check runs.
func (r *Reporter) NeedLeaderElection() bool { return true }

func (r *Reporter) ingest(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-r.queue:
			r.record(ctx, e)
		}
	}
}

// record attributes one entry and adds it to its job.
func (r *Reporter) record(ctx context.Context, e Entry) {
	r.metrics.Entries.WithLabelValues(e.Verdict.String()).Inc()
	if !e.SourceIP.IsValid() {
		r.metrics.drop(DropUnknownSource)
		return
	}
	key, job, ok := r.jobOf(ctx, e.SourceIP, e.Arrived)
	if !ok {
		return
	}
	profile, known := r.profileOf(ctx, job, e.Arrived)

	verdict := e.Verdict
	if verdict == VerdictPassthrough {
		verdict = VerdictAllowed
		if known && !hostInProfile(e.Host, profile.Hosts) {
			verdict = VerdictWouldBlock
		}
	}
	if verdict == VerdictBlocked || verdict == VerdictDenied {
		r.metrics.Blocked.WithLabelValues(job.ScaleSetNamespace, job.ScaleSet, r.metrics.destinationLabel(escapeHost(e.Host))).Inc()
	}
	// Allowed connections matter only for the audit snippet.
	audit := known && profile.Mode == egressv1alpha1.ModeAudit
	if verdict == VerdictAllowed && !audit {
		return
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if until, ok := r.done[key]; ok && e.Arrived.Before(until) {
		r.metrics.drop(DropNoJob)
		return
	}
	state, ok := r.jobs[key]
	if !ok {
		if len(r.jobs) >= r.opts.MaxJobs {
			r.metrics.drop(DropMaxJobs)
			return
		}
		state = &jobState{
			job:                 job,
			profile:             profile,
			profileKnown:        known,
			destinations:        map[destinationKey]*destinationView{},
			nextCompletionCheck: e.Arrived.Add(r.opts.CompletionCheckInterval),
		}
		r.jobs[key] = state
	}
	state.add(e, verdict, r.opts.MaxDestinationsPerJob, r.metrics)
}

// add counts an entry against its destination. Only a new reported
// destination or a change of verdict marks the job for a write. Repeated
// connections therefore cost no GitHub request, and their counts go out
// with the next write.
func (s *jobState) add(e Entry, verdict Verdict, maxDestinations int, metrics *Metrics) {
	key := destinationKey{host: e.Host, port: e.Port}
	d, ok := s.destinations[key]
	if !ok {
		if len(s.destinations) >= maxDestinations {
			s.dropped++
			metrics.drop(DropMaxDestinations)
			return
		}
		d = &destinationView{Host: e.Host, HostSource: e.HostSource, Port: e.Port, Verdict: verdict, FirstSeen: e.Arrived}
		s.destinations[key] = d
		s.order = append(s.order, key)
		if verdict != VerdictAllowed {
			s.version++
		}
	} else if severity(verdict) > severity(d.Verdict) {
		d.Verdict = verdict
		s.version++
	}
	if verdict == VerdictDenied && d.Policy == "" {
		d.Policy = e.Policy
	}
	d.Count++
}

func severity(v Verdict) int {
	switch v {
	case VerdictBlocked, VerdictDenied:
		return 2
	case VerdictWouldBlock:
		return 1
	default:
		return 0
	}
}

// jobOf returns the job of a source IP, from the cache or the Attributor.
func (r *Reporter) jobOf(ctx context.Context, ip netip.Addr, now time.Time) (string, Job, bool) {
	r.mu.Lock()
	cached, ok := r.sources[ip]
	r.mu.Unlock()
	if ok && now.Before(cached.expires) {
		if cached.key == "" {
			r.metrics.drop(cached.reason)
			return "", Job{}, false
		}
		return cached.key, cached.job, true
	}

	// NOTE: entries that arrive before ARC has written the runner's job
	// fields are dropped and counted as no_job.
	job, err := r.attributor.Attribute(ctx, ip)
	entry := cachedSource{expires: now.Add(r.opts.NegativeTTL)}
	switch {
	case err == nil:
		entry.key, entry.job = job.Key(), job
		entry.expires = now.Add(r.opts.AttributionTTL)
	case errors.Is(err, ErrUnknownSource):
		entry.reason = DropUnknownSource
	case errors.Is(err, ErrNoJob):
		entry.reason = DropNoJob
	default:
		// Cached too, so that an unreachable API server costs one lookup
		// and one log line per source IP every NegativeTTL.
		entry.reason = DropAttributionErr
		logr.FromContextOrDiscard(ctx).Error(err, "Attributing an access-log entry failed", "sourceIP", ip.String())
	}
	if entry.reason != "" {
		r.metrics.drop(entry.reason)
	}

	r.mu.Lock()
	if len(r.sources) >= r.opts.MaxCachedSources {
		r.evictSources(now)
	}
	r.sources[ip] = entry
	r.mu.Unlock()
	return entry.key, entry.job, entry.key != ""
}

// evictSources removes expired entries, or every entry when none has
// expired, so that the cache never exceeds MaxCachedSources. Callers hold mu.
func (r *Reporter) evictSources(now time.Time) {
	for ip, c := range r.sources {
		if !now.Before(c.expires) {
			delete(r.sources, ip)
		}
	}
	if len(r.sources) >= r.opts.MaxCachedSources {
		clear(r.sources)
	}
}

// profileOf returns the profile of the job's scale set, cached per scale
// set. An unknown profile leaves blocks and denials reported in enforce
// terms and passthrough connections unjudged.
func (r *Reporter) profileOf(ctx context.Context, job Job, now time.Time) (ScaleSetProfile, bool) {
	key := job.ScaleSetNamespace + "/" + job.ScaleSet
	r.mu.Lock()
	cached, ok := r.profile[key]
	r.mu.Unlock()
	if ok && now.Before(cached.expires) {
		return cached.profile, cached.known
	}

	profile, err := r.profiles.LookupProfile(ctx, job.ScaleSetNamespace, job.ScaleSet)
	cached = cachedProfile{profile: profile, known: err == nil, expires: now.Add(r.opts.AttributionTTL)}
	if err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "Looking up the egress profile failed", "scaleSet", key)
	}
	r.mu.Lock()
	if len(r.profile) >= r.opts.MaxCachedSources {
		clear(r.profile)
	}
	r.profile[key] = cached
	r.mu.Unlock()
	return cached.profile, cached.known
}

// Flush checks tracked jobs for completion and writes the check runs of
// jobs that changed. Start calls it every FlushInterval.
func (r *Reporter) Flush(ctx context.Context) {
	now := r.opts.Clock()
	var due []*jobState
	r.mu.Lock()
	for _, s := range r.jobs {
		if !s.inFlight {
			s.inFlight = true
			due = append(due, s)
		}
	}
	r.mu.Unlock()

	sem := make(chan struct{}, flushConcurrency)
	var wg sync.WaitGroup
	for _, s := range due {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r.flushJob(ctx, s, now)
		})
	}
	wg.Wait()
}

// flushJob runs one job's completion check and write. The job's inFlight
// flag keeps other flushes away from it meanwhile.
func (r *Reporter) flushJob(ctx context.Context, s *jobState, now time.Time) {
	log := logr.FromContextOrDiscard(ctx).WithValues("job", s.job.Key(), "repository", s.job.Repository)
	defer func() {
		r.mu.Lock()
		s.inFlight = false
		r.mu.Unlock()
	}()

	if !s.finished && !now.Before(s.nextCompletionCheck) {
		s.nextCompletionCheck = now.Add(r.opts.CompletionCheckInterval)
		active, err := r.attributor.JobActive(ctx, s.job)
		if err != nil {
			log.Error(err, "Checking whether the job still runs failed")
		} else if !active {
			r.mu.Lock()
			s.finished = true
			r.mu.Unlock()
		}
	}

	view, write := r.snapshot(s)
	if !write {
		if s.finished {
			r.forget(s)
		}
		return
	}

	err := r.publish(ctx, s, &view)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		// NOTE: a write that fails after its first batch of 50 annotations
		// is retried whole, so GitHub can show that batch twice.
		s.failures++
		log.Error(err, "Writing the egress check run failed", "checkRun", checkRunNamePrefix+s.job.Name, "attempt", s.failures)
		if s.finished && s.failures >= maxFinalAttempts {
			r.forgetLocked(s)
		}
		return
	}
	s.published = view.version
	s.annotated = view.annotatedAfter
	s.failures = 0
	if view.Final {
		log.Info("Completed the egress check run", "checkRun", checkRunNamePrefix+s.job.Name, "headSHA", view.HeadSHA)
		r.forgetLocked(s)
	}
}

// pendingView is a reportView plus what a successful write settles.
type pendingView struct {
	reportView
	version        uint64
	annotatedAfter int
}

// snapshot copies the state a write needs, and reports whether a write is
// due: the job changed and is under its write cap, or it finished with
// something to report.
func (r *Reporter) snapshot(s *jobState) (pendingView, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()

	reported := false
	for _, d := range s.destinations {
		if d.Verdict != VerdictAllowed {
			reported = true
			break
		}
	}
	if !reported {
		return pendingView{}, false
	}
	changed := s.version != s.published || s.annotated < len(s.order)
	switch {
	case s.finished:
	case !changed:
		return pendingView{}, false
	case s.updates >= r.opts.MaxUpdatesPerJob:
		r.metrics.GitHubRequests.WithLabelValues("skipped_cap").Inc()
		return pendingView{}, false
	}
	if s.failures >= maxFinalAttempts && !s.finished {
		// Stop spending requests on a job whose writes GitHub keeps
		// rejecting. The completing write is still tried.
		return pendingView{}, false
	}
	if !s.finished {
		s.updates++
	}

	v := pendingView{
		reportView: reportView{
			Job:                 s.job,
			Profile:             s.profile,
			ProfileKnown:        s.profileKnown,
			HeadSHA:             s.headSHA,
			DroppedDestinations: s.dropped,
			MaxDestinations:     r.opts.MaxDestinationsPerJob,
			Final:               s.finished,
		},
		version:        s.version,
		annotatedAfter: len(s.order),
	}
	for i, key := range s.order {
		d := *s.destinations[key]
		v.Destinations = append(v.Destinations, d)
		if i >= s.annotated && d.Verdict != VerdictAllowed {
			v.NewAnnotations = append(v.NewAnnotations, i)
		}
	}
	return v, true
}

// publish reads the head SHA once per job and writes the check run.
func (r *Reporter) publish(ctx context.Context, s *jobState, v *pendingView) error {
	target, err := targetOf(v.Job, v.Profile)
	if err != nil {
		return err
	}
	if v.HeadSHA == "" {
		sha, err := r.publisher.HeadSHA(ctx, target, v.Job.WorkflowRunID)
		if err != nil {
			r.metrics.GitHubRequests.WithLabelValues("error").Inc()
			return fmt.Errorf("read head SHA of workflow run %d in %s: %w", v.Job.WorkflowRunID, v.Job.Repository, err)
		}
		r.metrics.GitHubRequests.WithLabelValues("ok").Inc()
		v.HeadSHA = sha
		r.mu.Lock()
		s.headSHA = sha
		r.mu.Unlock()
	}

	run := renderCheckRun(v.reportView)
	if err := r.publisher.UpsertCheckRun(ctx, target, run); err != nil {
		r.metrics.GitHubRequests.WithLabelValues("error").Inc()
		return fmt.Errorf("write check run %q on %s@%s: %w", run.Name, v.Job.Repository, v.HeadSHA, err)
	}
	r.metrics.GitHubRequests.WithLabelValues("ok").Inc()
	return nil
}

func targetOf(job Job, profile ScaleSetProfile) (Target, error) {
	owner, repo, ok := strings.Cut(job.Repository, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return Target{}, fmt.Errorf("EphemeralRunner %s/%s has jobRepositoryName %q, expected owner/repo", job.Namespace, job.Runner, job.Repository)
	}
	return Target{GitHubConfigURL: profile.GitHubConfigURL, Owner: owner, Repo: repo}, nil
}

func (r *Reporter) forget(s *jobState) {
	r.mu.Lock()
	r.forgetLocked(s)
	r.mu.Unlock()
}

// forgetLocked drops a job's state and remembers it as done. Callers hold
// mu.
func (r *Reporter) forgetLocked(s *jobState) {
	now := r.opts.Clock()
	if len(r.done) >= r.opts.MaxJobs {
		for key, until := range r.done {
			if !now.Before(until) {
				delete(r.done, key)
			}
		}
		if len(r.done) >= r.opts.MaxJobs {
			clear(r.done)
		}
	}
	r.done[s.job.Key()] = now.Add(r.opts.AttributionTTL)
	delete(r.jobs, s.job.Key())

	// The pod's IP may go to a new pod soon; look it up again.
	for ip, cached := range r.sources {
		if cached.key == s.job.Key() {
			delete(r.sources, ip)
		}
	}
}

// TrackedJobs returns the number of jobs the Reporter holds state for.
func (r *Reporter) TrackedJobs() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.jobs)
}
