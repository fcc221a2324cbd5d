package queue

import (
	"errors"
	"fmt"
)

// ErrInvalidQueue is matched by every error of Validate.
var ErrInvalidQueue = errors.New("queue: invalid queue definition")

// DefinitionError reports a queue definition that cannot work: Field names
// the offending field, Problem says what is wrong with it.
type DefinitionError struct {
	Queue   string
	Field   string
	Problem string
}

func (e *DefinitionError) Error() string {
	return fmt.Sprintf("queue %q: %s %s", e.Queue, e.Field, e.Problem)
}

// Is makes errors.Is(err, ErrInvalidQueue) true.
func (e *DefinitionError) Is(target error) bool { return target == ErrInvalidQueue }
