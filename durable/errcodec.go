package durable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
)

// How errors are kept. A step's or a workflow's error is recorded as its
// message, its Go type's name, and the identities it has that the engine
// knows: the registered sentinels it matches with errors.Is and the
// registered error types it matches with errors.As, each with its fields.
// Reading it back gives a *RecordedError with the same message that
// unwraps to those sentinels and to rebuilt values of those types. The
// engine hands the read-back error to the workflow on the first run too,
// so a branch on errors.Is or errors.As goes the same way on the first
// run and on every replay.
//
// The engine's own errors are known from the start; RegisterError and
// RegisterErrorType add a program's own.

// errorRecord is an error as the system database keeps it, in JSON
// whatever the codec, so any program can read its message.
type errorRecord struct {
	Message string        `json:"message"`
	Type    string        `json:"type,omitempty"` // the original's Go type, for people
	Is      []string      `json:"is,omitempty"`   // names of the sentinels it matched
	As      []typedRecord `json:"as,omitempty"`   // the registered types it matched
}

// typedRecord is one registered error type found in an error, with the
// fields of the value errors.As found.
type typedRecord struct {
	Kind string          `json:"kind"`
	Data json.RawMessage `json:"data"`
}

// errorKind is an identity the engine keeps across a replay: a sentinel
// (target set) or an error type (match, marshal and unmarshal set). A
// type's marshal and unmarshal get the kinds, for errors inside errors.
type errorKind struct {
	name      string
	target    error
	match     func(error) (error, bool)
	marshal   func(*kindSet, error) ([]byte, error)
	unmarshal func(*kindSet, []byte) (error, error)
}

// kindSet is one immutable version of the identities an engine keeps.
type kindSet struct {
	kinds  []errorKind // in registration order
	byName map[string]int
}

// errorKinds holds the current kindSet. Registering copies it, so
// encoding and decoding read a version that never changes under them.
type errorKinds struct {
	mu  sync.Mutex // serialises registrations
	cur atomic.Pointer[kindSet]
}

func newErrorKinds() *errorKinds {
	k := &errorKinds{}
	k.cur.Store(&kindSet{byName: map[string]int{}})
	for _, s := range []struct {
		name   string
		target error
	}{
		{"durable.WorkflowCancelled", ErrWorkflowCancelled},
		{"durable.DeadlineExceeded", ErrDeadlineExceeded},
		{"durable.Timeout", ErrTimeout},
		{"durable.StepTimeout", ErrStepTimeout},
		{"durable.MaxRecoveryAttemptsExceeded", ErrMaxRecoveryAttemptsExceeded},
		{"durable.WorkflowNotFound", ErrWorkflowNotFound},
		{"durable.ConflictingWorkflow", ErrConflictingWorkflow},
		{"durable.Deduplicated", ErrDeduplicated},
		{"durable.Encode", ErrEncode},
		{"durable.Decode", ErrDecode},
		{"durable.NotInWorkflow", ErrNotInWorkflow},
		{"durable.InStep", ErrInStep},
		{"durable.NotWorkflowGoroutine", ErrNotWorkflowGoroutine},
		{"durable.InvalidTimeout", ErrInvalidTimeout},
		{"durable.InvalidID", ErrInvalidID},
		{"durable.InvalidEnqueue", ErrInvalidEnqueue},
		{"durable.NoQueue", ErrNoQueue},
		{"durable.InvalidDebounce", ErrInvalidDebounce},
		{"durable.StreamClosed", ErrStreamClosed},
		{"context.Canceled", context.Canceled},
		{"context.DeadlineExceeded", context.DeadlineExceeded},
	} {
		k.add(errorKind{name: s.name, target: s.target})
	}
	step := typeKind[*StepError]("durable.StepError")
	step.marshal, step.unmarshal = marshalStepError, unmarshalStepError
	k.add(step)
	k.add(typeKind[*DeterminismError]("durable.DeterminismError"))
	k.add(typeKind[*DeduplicatedError]("durable.DeduplicatedError"))
	k.add(typeKind[*PanicError]("durable.PanicError"))
	return k
}

// add registers a kind; it reports false if the name is taken.
func (k *errorKinds) add(kind errorKind) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	old := k.cur.Load()
	if _, dup := old.byName[kind.name]; dup {
		return false
	}
	next := &kindSet{kinds: append(old.kinds[:len(old.kinds):len(old.kinds)], kind), byName: make(map[string]int, len(old.byName)+1)}
	for n, i := range old.byName {
		next.byName[n] = i
	}
	next.byName[kind.name] = len(next.kinds) - 1
	k.cur.Store(next)
	return true
}

// typeKind is the kind of error type E, its exported fields kept with
// encoding/json.
func typeKind[E error](name string) errorKind {
	return errorKind{
		name: name,
		match: func(err error) (error, bool) {
			var t E
			if errors.As(err, &t) {
				return t, true
			}
			return nil, false
		},
		marshal: func(_ *kindSet, err error) ([]byte, error) { return json.Marshal(err) },
		unmarshal: func(_ *kindSet, b []byte) (error, error) {
			var t E
			if rt := reflect.TypeFor[E](); rt.Kind() == reflect.Pointer {
				t = reflect.New(rt.Elem()).Interface().(E)
				return t, json.Unmarshal(b, t)
			}
			err := json.Unmarshal(b, &t)
			return t, err
		},
	}
}

// RegisterError makes errors.Is(err, target) survive a replay: an error
// recorded while it matched target matches target when read back. Give
// each sentinel a stable name, as for workflows; every program sharing
// the database registers the same ones. Register before Launch.
//
// An error that matches no registered sentinel or type still keeps its
// message; the engine's own errors (ErrWorkflowCancelled, ErrTimeout,
// *StepError, context.Canceled, …) are always kept.
func RegisterError(sys System, name string, target error) error {
	if target == nil {
		return fmt.Errorf("%w: error %q is nil", ErrInvalidName, name)
	}
	return sys.engine().registerErrorKind(errorKind{name: name, target: target})
}

// RegisterErrorType makes errors.As(err, &t) with t of type E survive a
// replay: the value errors.As finds in a recorded error is kept with its
// exported fields (encoding/json) and rebuilt when read back. E is
// usually a pointer type, such as *MyError; unexported fields are not
// kept, so Error should depend on exported ones only. Register before
// Launch.
func RegisterErrorType[E error](sys System, name string) error {
	if reflect.TypeFor[E]().Kind() == reflect.Interface {
		return fmt.Errorf("%w: error type %q: %v is an interface; register a concrete type", ErrInvalidName, name, reflect.TypeFor[E]())
	}
	return sys.engine().registerErrorKind(typeKind[E](name))
}

func (e *Engine) registerErrorKind(kind errorKind) error {
	if kind.name == "" || strings.HasPrefix(kind.name, "durable.") || strings.HasPrefix(kind.name, "context.") {
		return fmt.Errorf("%w: error name %q is empty or reserved", ErrInvalidName, kind.name)
	}
	e.mu.Lock()
	state := e.state
	e.mu.Unlock()
	if state != stateNew {
		return fmt.Errorf("%w: register error %q before Launch", ErrAlreadyLaunched, kind.name)
	}
	if !e.errKinds.add(kind) {
		return fmt.Errorf("%w: error %q", ErrDuplicateName, kind.name)
	}
	return nil
}

// encode records err: nil for no error.
func (k *errorKinds) encode(err error) []byte { return k.cur.Load().encode(err) }

// decode reads back an error recorded by encode: a *RecordedError, or nil
// for no record. Identities this program has not registered are dropped;
// the message stays.
func (k *errorKinds) decode(data []byte) error { return k.cur.Load().decode(data) }

// roundTrip returns what a replay would see of err.
func (k *errorKinds) roundTrip(err error) error {
	ks := k.cur.Load()
	return ks.decode(ks.encode(err))
}

func (ks *kindSet) encode(err error) []byte {
	if err == nil {
		return nil
	}
	rec := errorRecord{Message: err.Error(), Type: fmt.Sprintf("%T", err)}
	if prev, ok := err.(*RecordedError); ok && prev.Type != "" {
		rec.Type = prev.Type // read back earlier: keep the original's type
	}
	for _, kind := range ks.kinds {
		if kind.target != nil {
			if errors.Is(err, kind.target) {
				rec.Is = append(rec.Is, kind.name)
			}
			continue
		}
		v, ok := kind.match(err)
		if !ok {
			continue
		}
		data, merr := kind.marshal(ks, v)
		if merr != nil {
			continue // not kept, and the first run reads back the same record
		}
		rec.As = append(rec.As, typedRecord{Kind: kind.name, Data: data})
	}
	b, jerr := json.Marshal(rec)
	if jerr != nil { // cannot happen: strings and valid JSON
		b, _ = json.Marshal(errorRecord{Message: rec.Message, Type: rec.Type})
	}
	return b
}

func (ks *kindSet) decode(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	var rec errorRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return &RecordedError{Message: string(data)}
	}
	out := &RecordedError{Message: rec.Message, Type: rec.Type}
	for _, name := range rec.Is {
		if i, ok := ks.byName[name]; ok && ks.kinds[i].target != nil {
			out.causes = append(out.causes, ks.kinds[i].target)
		}
	}
	for _, t := range rec.As {
		i, ok := ks.byName[t.Kind]
		if !ok || ks.kinds[i].unmarshal == nil {
			continue
		}
		if v, err := ks.kinds[i].unmarshal(ks, t.Data); err == nil {
			out.causes = append(out.causes, v)
		}
	}
	return out
}

// A StepError's attempts are errors themselves: each kept as a record.
type stepErrorJSON struct {
	WorkflowID string            `json:"workflow_id"`
	StepID     int               `json:"step_id"`
	StepName   string            `json:"step_name"`
	Attempts   []json.RawMessage `json:"attempts"`
}

func marshalStepError(ks *kindSet, err error) ([]byte, error) {
	se := err.(*StepError)
	j := stepErrorJSON{WorkflowID: se.WorkflowID, StepID: se.StepID, StepName: se.StepName}
	for _, a := range se.Attempts {
		j.Attempts = append(j.Attempts, ks.encode(a))
	}
	return json.Marshal(j)
}

func unmarshalStepError(ks *kindSet, b []byte) (error, error) {
	var j stepErrorJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	se := &StepError{WorkflowID: j.WorkflowID, StepID: j.StepID, StepName: j.StepName}
	for _, a := range j.Attempts {
		se.Attempts = append(se.Attempts, ks.decode(a))
	}
	return se, nil
}
