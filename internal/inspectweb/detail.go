package inspectweb

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/dboslite/dboslite/durable"
)

const (
	maxChildren     = 500                    // children drawn on a detail page
	maxStreamValues = 200                    // stream values a detail page shows
	streamWait      = 250 * time.Millisecond // how long a lookup waits for an open stream's values
)

type detailPage struct {
	WF         durable.WorkflowStatus
	PayloadErr string // why the input or output could not be shown
	Steps      []durable.StepInfo
	Children   []durable.WorkflowStatus
	Timeline   timeline
	Traffic    []traffic
	Event      lookup
	Stream     lookup
	CanCancel  bool
	CanResume  bool
	ForkMax    int // the highest step a fork may start from
}

// traffic is a message, event or stream operation the workflow recorded.
type traffic struct {
	StepID int
	What   string
	Value  any
	Shown  bool // whether Value means something
}

// lookup is the answer to "what is the value of this event or stream".
type lookup struct {
	Key    string
	Found  bool
	Values []any // the event's value, or the stream's values
	Open   bool  // a stream still open after the lookup's wait
	More   bool  // a stream with more values than shown
	Err    string
}

// trafficWhat says what each recorded operation of the engine did.
var trafficWhat = map[string]string{
	"durable.recv":        "received a message",
	"durable.send":        "sent a message",
	"durable.setEvent":    "set an event",
	"durable.getEvent":    "read an event",
	"durable.writeStream": "wrote to a stream",
	"durable.closeStream": "closed a stream",
}

// detail shows one workflow.
func (s *server) detail(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	var p detailPage
	q := durable.ListQuery{IDs: []string{id}, Limit: 1, LoadInput: true, LoadOutput: true}
	page, err := s.c.ListWorkflows(ctx, q)
	if errors.Is(err, durable.ErrDecode) {
		p.PayloadErr = err.Error()
		q.LoadInput, q.LoadOutput = false, false
		page, err = s.c.ListWorkflows(ctx, q)
	}
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	if len(page.Workflows) == 0 {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("no workflow has the ID %q", id))
		return
	}
	p.WF = page.Workflows[0]
	if p.Steps, err = s.c.Steps(ctx, id); err != nil {
		s.failErr(w, r, err)
		return
	}
	children, err := s.c.ListWorkflows(ctx, durable.ListQuery{ParentID: id, Limit: maxChildren})
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	p.Children = children.Workflows
	p.Timeline = drawTimeline(p.WF, p.Steps, p.Children, time.Now())
	for _, st := range p.Steps {
		if what, ok := trafficWhat[st.Name]; ok {
			t := traffic{StepID: st.StepID, What: what, Value: st.Output}
			t.Shown = st.Name == "durable.recv" || st.Name == "durable.getEvent"
			if st.Error != nil {
				t.What, t.Value, t.Shown = what+": "+st.Error.Error(), nil, false
			}
			p.Traffic = append(p.Traffic, t)
		}
	}
	p.Event = s.event(ctx, id, r.URL.Query().Get("event"))
	p.Stream = s.stream(ctx, id, r.URL.Query().Get("stream"))
	p.CanCancel = !p.WF.Status.Terminal()
	p.CanResume = p.WF.Status == durable.StatusCancelled || p.WF.Status == durable.StatusError ||
		p.WF.Status == durable.StatusMaxRecoveryAttemptsExceeded
	p.ForkMax = len(p.Steps) + 1
	v := view{Title: p.WF.Name + " " + p.WF.ID, Data: p}
	if !p.WF.Status.Terminal() {
		v.Refresh = 2
	}
	s.render(w, r, "detail", v)
}

// event looks up the event key of workflow id, without waiting.
func (s *server) event(ctx context.Context, id, key string) lookup {
	l := lookup{Key: key}
	if key == "" {
		return l
	}
	v, err := durable.GetEvent[any](ctx, s.c, id, key, 0)
	switch {
	case errors.Is(err, durable.ErrTimeout):
	case err != nil:
		l.Err = err.Error()
	default:
		l.Found, l.Values = true, []any{v}
	}
	return l
}

// stream reads the stream key of workflow id, waiting streamWait for the
// values of a stream still open.
func (s *server) stream(ctx context.Context, id, key string) lookup {
	l := lookup{Key: key}
	if key == "" {
		return l
	}
	ctx, cancel := context.WithTimeout(ctx, streamWait)
	defer cancel()
	for v, err := range durable.ReadStream[any](ctx, s.c, id, key, 0) {
		if err != nil {
			if ctx.Err() != nil {
				l.Open = true
			} else {
				l.Err = err.Error()
			}
			break
		}
		if len(l.Values) == maxStreamValues {
			l.More = true
			break
		}
		l.Values = append(l.Values, v)
	}
	l.Found = len(l.Values) > 0
	return l
}
