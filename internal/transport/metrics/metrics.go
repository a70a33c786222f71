// Package metrics serves childcase's Prometheus metrics: the RPC metrics of
// go-grpc-middleware's Prometheus provider, and the service's own (open
// deadlines, warnings and escalations, the outbox and its webhooks, the
// database, the audit log, refused sign-ins), read from the domain
// services and the store through the functions of Sources at each scrape.
// It is transport: it must not hold business logic, and no label it
// writes may carry personal data, a case number, a user id or any other
// value from an open set (every label value comes from a closed set, or
// from the operator's own configuration, such as a webhook's name).
package metrics

import (
	"context"
	_ "embed" // the dashboard
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// Dashboard is the Grafana dashboard built on these metrics (import it in
// Grafana: Dashboards, New, Import).
//
//go:embed grafana/childcase-dashboard.json
var Dashboard []byte

// StoreGauges are what the store tells at a scrape (see
// boltstore.Store.Gauges).
type StoreGauges struct {
	Commits, Fsyncs                           int64
	SizeBytes, ReserveBytes, ReserveHeldBytes int64
}

// SignIns are the refused sign-ins since start.
type SignIns struct{ Failed, Throttled uint64 }

// HolidayData are the days left, from today in Hanoi, to the last day of
// the holiday data's announced years, and of all their years (negative
// once past): a working-day count past the first rests on estimates,
// past the second on no data.
type HolidayData struct{ AnnouncedDaysLeft, DaysLeft int }

// CertExpiry is when a certificate the server presents, or the CA it
// trusts for client certificates, expires, under the flag that names its
// file ("tls-cert", "etcd-cert", "client-ca"): a closed set.
type CertExpiry struct {
	Cert     string
	NotAfter time.Time
}

// Sources are where the metrics are read at each scrape. A nil function
// leaves its metrics out.
type Sources struct {
	// Deadlines counts the open deadlines by kind and state
	// (process.Engine.OpenDeadlineCounts). Its result is kept for
	// DeadlineTTL: it walks the index of cases with an open deadline.
	Deadlines func(context.Context) (map[process.DeadlineCount]int, error)
	// Notifications reads the outbox after a seq, oldest first
	// (outbox.Service.Read); Position returns the outbox head and a
	// webhook's cursor, the head alone for "" (outbox.Service.Position).
	Notifications func(ctx context.Context, after uint64, limit int) ([]model.Notification, error)
	Position      func(ctx context.Context, webhook string) (head, cursor uint64, err error)
	// Tail returns the seq of the oldest notification the outbox keeps
	// (outbox.Service.Tail); nil leaves childcase_outbox_tail_seq out.
	Tail func(context.Context) (uint64, error)
	// Webhooks are the names of the webhooks in the policy.
	Webhooks []string
	Store    func() (StoreGauges, error)
	// AuditHead returns the seq of the newest audit event.
	AuditHead func(context.Context) (uint64, error)
	SignIns   func() SignIns
	// HolidayData says how long the working-day calendar's data last.
	HolidayData func() HolidayData
	// Certificates are the expiries of the certificates the server
	// presents; one it cannot read is left out and its error counted.
	Certificates func() ([]CertExpiry, error)
	Log          *slog.Logger
	// DeadlineTTL is how long a count of the open deadlines is served
	// before the next scrape counts again; zero: DefaultDeadlineTTL.
	DeadlineTTL time.Duration
}

// DefaultDeadlineTTL bounds how often a scrape walks the open cases: at
// Prometheus's usual 15 s to 1 min interval, at most one walk per scrape,
// and fewer under several scrapers.
const DefaultDeadlineTTL = 30 * time.Second

// notificationBatch and maxNotificationBatches bound the outbox one scrape
// reads to count warnings, breaches and escalations; what is left is
// counted at the next scrape.
const (
	notificationBatch      = 1000
	maxNotificationBatches = 20
)

// counted are the notification kinds counted, each under its metric.
var counted = map[string]string{
	"DEADLINE_WARNING":  "childcase_deadline_warnings_total",
	"DEADLINE_BREACHED": "childcase_deadline_breaches_total",
	"ESCALATED":         "childcase_escalations_total",
}

// Metrics holds the registry served at /metrics.
type Metrics struct {
	reg     *prometheus.Registry
	rpc     *grpcprom.ServerMetrics
	commits prometheus.Histogram
	hooks   *prometheus.CounterVec
	// known are the full names of the methods the services have, set by
	// InitializeRPC before the server serves: a call of any other method
	// is counted under unknownMethod.
	known map[string]bool
}

// unknownMethod is the one service and method under which calls of a
// method that does not exist are counted. Anyone who reaches the gRPC
// port may call one, without a token, and its path is whatever they typed
// (a case number, a child's name): as a label it would leak it, and each
// path would be a series of its own, without bound.
const unknownMethod = "/unknown/unknown"

// New registers the metrics that are observed as things happen (the RPC
// metrics, commit times, webhook failures); Read adds those read at each
// scrape, once their sources are open.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		rpc: grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
			grpcprom.WithHistogramBuckets([]float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}),
		)),
		commits: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "childcase_db_commit_seconds",
			Help:    "How long each committed write transaction took, its fsyncs included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		hooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "childcase_webhook_failures_total",
			Help: "Failed delivery attempts, by webhook (its name in the policy).",
		}, []string{"webhook"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.rpc, m.commits, m.hooks,
	)
	return m
}

// Read registers the metrics read from src at each scrape; call it once.
// The outbox is counted from its head now: the counters of warnings,
// breaches and escalations count what happens while this process runs,
// as Prometheus counters do.
func (m *Metrics) Read(ctx context.Context, src Sources) error {
	if src.Log == nil {
		src.Log = slog.New(slog.DiscardHandler)
	}
	if src.DeadlineTTL <= 0 {
		src.DeadlineTTL = DefaultDeadlineTTL
	}
	for _, name := range src.Webhooks {
		m.hooks.WithLabelValues(name) // shown at 0 before the first failure
	}
	c := &collector{src: src}
	if src.Notifications != nil && src.Position != nil {
		head, _, err := src.Position(ctx, "")
		if err != nil {
			return err
		}
		c.seen = head
	}
	return m.reg.Register(c)
}

// Handler serves the metrics in the Prometheus text format, without
// go_info: the metrics are served without a token, and the Go version
// would tell whoever reaches them which of the standard library's known
// vulnerabilities to try (issue 15: anonymous callers never see the
// build). The operator reads it from childcase version and the start-up
// log.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(withoutBuild{m.reg}, promhttp.HandlerOpts{Registry: m.reg})
}

// withoutBuild gathers every metric but go_info.
type withoutBuild struct{ prometheus.Gatherer }

func (g withoutBuild) Gather() ([]*dto.MetricFamily, error) {
	families, err := g.Gatherer.Gather()
	return slices.DeleteFunc(families, func(f *dto.MetricFamily) bool { return f.GetName() == "go_info" }), err
}

// UnaryInterceptor and StreamInterceptor count and time the gRPC calls:
// labels are the service, the method, the call type and the status code.
// A method that does not exist is counted as unknownMethod.
func (m *Metrics) UnaryInterceptor() grpc.UnaryServerInterceptor {
	count := m.rpc.UnaryServerInterceptor()
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !m.known[info.FullMethod] {
			info = &grpc.UnaryServerInfo{Server: info.Server, FullMethod: unknownMethod}
		}
		return count(ctx, req, info, handler)
	}
}

// StreamInterceptor: see UnaryInterceptor.
func (m *Metrics) StreamInterceptor() grpc.StreamServerInterceptor {
	count := m.rpc.StreamServerInterceptor()
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if !m.known[info.FullMethod] {
			info = &grpc.StreamServerInfo{FullMethod: unknownMethod, IsClientStream: info.IsClientStream, IsServerStream: info.IsServerStream}
		}
		return count(srv, ss, info, handler)
	}
}

// InitializeRPC shows every method of s at zero before its first call,
// and makes them the methods counted under their own names. Call it once,
// before s serves; every server counted must have the same services.
func (m *Metrics) InitializeRPC(s *grpc.Server) {
	m.known = map[string]bool{}
	for service, info := range s.GetServiceInfo() {
		for _, method := range info.Methods {
			m.known["/"+service+"/"+method.Name] = true
		}
	}
	m.rpc.InitializeMetrics(s)
}

// Committed observes one committed write transaction (boltstore's
// Options.Committed).
func (m *Metrics) Committed(d time.Duration) { m.commits.Observe(d.Seconds()) }

// WebhookFailed counts a failed delivery attempt (webhook.Deliverer's
// Failed).
func (m *Metrics) WebhookFailed(name string) { m.hooks.WithLabelValues(name).Inc() }

var (
	descDeadlines = prometheus.NewDesc("childcase_open_deadlines",
		"Open deadlines by kind and state (running, paused, overdue), counted at most every DeadlineTTL.",
		[]string{"kind", "state"}, nil)
	descOverdue = prometheus.NewDesc("childcase_overdue_deadlines",
		"Open deadlines past their due time now, all kinds together.", nil, nil)
	descLag = prometheus.NewDesc("childcase_outbox_lag",
		"Notifications in the outbox that a webhook has not yet acknowledged.", []string{"webhook"}, nil)
	descHead = prometheus.NewDesc("childcase_outbox_head_seq",
		"The seq of the newest notification in the outbox.", nil, nil)
	descTail = prometheus.NewDesc("childcase_outbox_tail_seq",
		"The seq of the oldest notification the outbox keeps (--outbox-retention prunes those before it): it holds head - tail + 1.", nil, nil)
	descCommits = prometheus.NewDesc("childcase_db_commits_total",
		"Write transactions committed since start.", nil, nil)
	descFsyncs = prometheus.NewDesc("childcase_db_fsyncs_total",
		"fsyncs of the database file since start (two per commit).", nil, nil)
	descSize = prometheus.NewDesc("childcase_db_size_bytes",
		"The size of the database file.", nil, nil)
	descReserve = prometheus.NewDesc("childcase_db_reserve_bytes",
		"Disk space kept back for the audit events of reads (--db-reserve).", nil, nil)
	descReserveFree = prometheus.NewDesc("childcase_db_reserve_free_bytes",
		"What the reserve file still holds: below childcase_db_reserve_bytes while the disk is full and reads draw on it.", nil, nil)
	descAudit = prometheus.NewDesc("childcase_audit_events_total",
		"Audit events written (the seq of the newest).", nil, nil)
	descSignInFailed = prometheus.NewDesc("childcase_signin_failures_total",
		"Refused sign-ins since start: no token, or one that did not authenticate.", nil, nil)
	descSignInThrottled = prometheus.NewDesc("childcase_signin_throttled_total",
		"Calls the sign-in throttle refused since start.", nil, nil)
	descHolidayAnnounced = prometheus.NewDesc("childcase_holiday_data_announced_days_left",
		"Days from today (Hanoi) to the last day of the holiday data's announced years: past it, working days are counted on estimates.", nil, nil)
	descHolidayEnd = prometheus.NewDesc("childcase_holiday_data_days_left",
		"Days from today (Hanoi) to the last day the holiday data cover: past it, only weekends and fixed-date holidays are days off.", nil, nil)
	descCertExpiry = prometheus.NewDesc("childcase_tls_cert_expiry_seconds",
		"When a certificate the server presents, or the CA it trusts for client certificates, expires, as a Unix time, by the flag that names its file (tls-cert, etcd-cert, client-ca).", []string{"cert"}, nil)
	descScrapeErrors = prometheus.NewDesc("childcase_metrics_source_errors_total",
		"Scrapes where a source of the metrics failed, by source.", []string{"source"}, nil)
	descNotified = func() map[string]*prometheus.Desc {
		out := map[string]*prometheus.Desc{}
		for kind, name := range counted {
			out[kind] = prometheus.NewDesc(name, "Notifications of kind "+kind+" committed since start.", nil, nil)
		}
		return out
	}()
)

// collector reads Sources at each scrape.
type collector struct {
	src Sources

	mu        sync.Mutex
	seen      uint64         // the outbox seq counted up to
	notified  map[string]int // by kind, of counted
	counts    map[process.DeadlineCount]int
	countedAt time.Time // when counts were taken (real time: a cache age, not a domain time)
	errors    map[string]float64
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDeadlines, descOverdue, descLag, descHead, descTail, descCommits, descFsyncs,
		descSize, descReserve, descReserveFree, descAudit, descSignInFailed, descSignInThrottled,
		descHolidayAnnounced, descHolidayEnd, descCertExpiry, descScrapeErrors} {
		ch <- d
	}
	for _, d := range descNotified {
		ch <- d
	}
}

// scrapeTimeout bounds what one scrape reads from the store.
const scrapeTimeout = 10 * time.Second

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.errors == nil {
		c.errors = map[string]float64{"deadlines": 0, "outbox": 0, "store": 0, "audit": 0}
	}
	c.collectDeadlines(ctx, ch)
	c.collectOutbox(ctx, ch)
	if c.src.Store != nil {
		if g, err := c.src.Store(); err != nil {
			c.failed(ctx, "store", err)
		} else {
			gauge(ch, descCommits, prometheus.CounterValue, float64(g.Commits))
			gauge(ch, descFsyncs, prometheus.CounterValue, float64(g.Fsyncs))
			gauge(ch, descSize, prometheus.GaugeValue, float64(g.SizeBytes))
			gauge(ch, descReserve, prometheus.GaugeValue, float64(g.ReserveBytes))
			gauge(ch, descReserveFree, prometheus.GaugeValue, float64(g.ReserveHeldBytes))
		}
	}
	if c.src.AuditHead != nil {
		if seq, err := c.src.AuditHead(ctx); err != nil {
			c.failed(ctx, "audit", err)
		} else {
			gauge(ch, descAudit, prometheus.CounterValue, float64(seq))
		}
	}
	if c.src.SignIns != nil {
		s := c.src.SignIns()
		gauge(ch, descSignInFailed, prometheus.CounterValue, float64(s.Failed))
		gauge(ch, descSignInThrottled, prometheus.CounterValue, float64(s.Throttled))
	}
	if c.src.HolidayData != nil {
		h := c.src.HolidayData()
		gauge(ch, descHolidayAnnounced, prometheus.GaugeValue, float64(h.AnnouncedDaysLeft))
		gauge(ch, descHolidayEnd, prometheus.GaugeValue, float64(h.DaysLeft))
	}
	if c.src.Certificates != nil {
		certs, err := c.src.Certificates()
		if err != nil {
			c.failed(ctx, "certificates", err)
		}
		for _, cert := range certs {
			ch <- prometheus.MustNewConstMetric(descCertExpiry, prometheus.GaugeValue, float64(cert.NotAfter.Unix()), cert.Cert)
		}
	}
	for source, n := range c.errors {
		ch <- prometheus.MustNewConstMetric(descScrapeErrors, prometheus.CounterValue, n, source)
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, t prometheus.ValueType, v float64) {
	ch <- prometheus.MustNewConstMetric(d, t, v)
}

// failed logs a source that could not be read; its metrics are left out
// of this scrape (Prometheus then shows a gap, not a wrong number).
func (c *collector) failed(ctx context.Context, source string, err error) {
	c.errors[source]++
	c.src.Log.WarnContext(ctx, "metrics: cannot read a source", "source", source, "err", err)
}

// collectDeadlines serves the open deadlines, counted again when the
// last count is older than DeadlineTTL.
func (c *collector) collectDeadlines(ctx context.Context, ch chan<- prometheus.Metric) {
	if c.src.Deadlines == nil {
		return
	}
	if c.counts == nil || time.Since(c.countedAt) >= c.src.DeadlineTTL {
		counts, err := c.src.Deadlines(ctx)
		if err != nil {
			c.failed(ctx, "deadlines", err)
			return
		}
		c.counts, c.countedAt = counts, time.Now()
	}
	overdue := 0
	for k, n := range c.counts {
		ch <- prometheus.MustNewConstMetric(descDeadlines, prometheus.GaugeValue, float64(n), string(k.Kind), string(k.State))
		if k.State == process.OpenDeadlineOverdue {
			overdue += n
		}
	}
	gauge(ch, descOverdue, prometheus.GaugeValue, float64(overdue))
}

// collectOutbox counts the warnings, breaches and escalations committed
// since the last scrape and serves each webhook's lag.
func (c *collector) collectOutbox(ctx context.Context, ch chan<- prometheus.Metric) {
	if c.src.Notifications == nil || c.src.Position == nil {
		return
	}
	if c.notified == nil {
		c.notified = map[string]int{}
	}
	for range maxNotificationBatches {
		batch, err := c.src.Notifications(ctx, c.seen, notificationBatch)
		if err != nil {
			c.failed(ctx, "outbox", err)
			break
		}
		for _, n := range batch {
			if _, ok := counted[n.Kind]; ok {
				c.notified[n.Kind]++
			}
			c.seen = n.Seq
		}
		if len(batch) < notificationBatch {
			break
		}
	}
	for kind, d := range descNotified {
		gauge(ch, d, prometheus.CounterValue, float64(c.notified[kind]))
	}
	head, _, err := c.src.Position(ctx, "")
	if err != nil {
		c.failed(ctx, "outbox", err)
		return
	}
	gauge(ch, descHead, prometheus.GaugeValue, float64(head))
	if c.src.Tail != nil {
		if tail, err := c.src.Tail(ctx); err != nil {
			c.failed(ctx, "outbox", err)
		} else {
			gauge(ch, descTail, prometheus.GaugeValue, float64(tail))
		}
	}
	for _, name := range c.src.Webhooks {
		head, cursor, err := c.src.Position(ctx, name)
		if err != nil {
			c.failed(ctx, "outbox", err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(head-min(cursor, head)), name)
	}
}
