package durable

import (
	"encoding/json"
	"fmt"
)

// Codec turns workflow inputs, outputs and step results into bytes for the
// system database and back. Every process that shares a database must use
// the same codec.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSON is the default codec: encoding/json.
type JSON struct{}

// Marshal implements Codec.
func (JSON) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal implements Codec.
func (JSON) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func (e *Engine) encode(what string, v any) ([]byte, error) {
	b, err := e.codec.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrEncode, what, err)
	}
	return b, nil
}

func decode[T any](e *Engine, what string, data []byte) (T, error) {
	var v T
	if data == nil {
		return v, nil
	}
	if err := e.codec.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("%w: %s as %T: %v", ErrDecode, what, v, err)
	}
	return v, nil
}

// encodeError records an error as JSON whatever the codec: its message and
// Go type, enough to give back an error with the same message after a
// restart.
func encodeError(err error) []byte {
	if err == nil {
		return nil
	}
	re := RecordedError{Message: err.Error(), Type: fmt.Sprintf("%T", err)}
	if prev, ok := err.(*RecordedError); ok {
		re.Type = prev.Type // read back earlier: keep the original's type
	}
	b, _ := json.Marshal(re) // two strings always encode
	return b
}

// decodeError gives back an error recorded by encodeError.
func decodeError(data []byte) error {
	if data == nil {
		return nil
	}
	var re RecordedError
	if err := json.Unmarshal(data, &re); err != nil {
		return &RecordedError{Message: string(data)}
	}
	return &re
}
