package inspectweb

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dboslite/dboslite/durable"
)

const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// statuses are the statuses the list can filter by, in the order the
// filter offers them.
var statuses = []durable.Status{
	durable.StatusPending, durable.StatusEnqueued, durable.StatusSuccess, durable.StatusError,
	durable.StatusCancelled, durable.StatusMaxRecoveryAttemptsExceeded,
}

// filter is what the list page's query string asks for.
type filter struct {
	Status, Name, Queue, Prefix string
	Limit                       int
	After                       string
}

// query returns the URL of the list page f selects, going on after
// after: the first page when after is empty.
func (f filter) query(after string) string {
	v := url.Values{}
	for k, s := range map[string]string{"status": f.Status, "name": f.Name, "queue": f.Queue, "prefix": f.Prefix, "after": after} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if f.Limit != defaultPageSize {
		v.Set("n", strconv.Itoa(f.Limit))
	}
	if len(v) == 0 {
		return "/"
	}
	return "/?" + v.Encode()
}

func parseFilter(q url.Values) (filter, error) {
	f := filter{Status: strings.ToUpper(q.Get("status")), Name: q.Get("name"), Queue: q.Get("queue"),
		Prefix: q.Get("prefix"), After: q.Get("after"), Limit: defaultPageSize}
	if n := q.Get("n"); n != "" {
		l, err := strconv.Atoi(n)
		if err != nil || l < 1 || l > maxPageSize {
			return f, errors.New("page size n must be a number from 1 to " + strconv.Itoa(maxPageSize))
		}
		f.Limit = l
	}
	return f, nil
}

type listPage struct {
	Filter   filter
	Statuses []durable.Status
	Rows     []durable.WorkflowStatus
	Queues   []durable.QueueDepth
	Next     string // the next page's URL; empty on the last page
	First    string // the first page's URL; empty on the first page
	Refresh  int    // seconds between refreshes; 0 for none
}

// list shows a page of workflows, newest first.
func (s *server) list(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	q := durable.ListQuery{Name: f.Name, Queue: f.Queue, IDPrefix: f.Prefix, NewestFirst: true, Limit: f.Limit, After: f.After}
	if f.Status != "" {
		q.Statuses = []durable.Status{durable.Status(f.Status)}
	}
	page, err := s.c.ListWorkflows(r.Context(), q)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	depths, err := s.c.QueueDepths(r.Context())
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	p := listPage{Filter: f, Statuses: statuses, Rows: page.Workflows, Queues: depths}
	if len(page.Workflows) == f.Limit {
		p.Next = f.query(page.Next)
	}
	if f.After != "" {
		p.First = f.query("")
	}
	for _, wf := range page.Workflows {
		if !wf.Status.Terminal() {
			p.Refresh = 5
			break
		}
	}
	s.render(w, r, "list", view{Title: "workflows", Refresh: p.Refresh, Data: p})
}
