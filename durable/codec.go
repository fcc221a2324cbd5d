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

// decode turns recorded bytes back into a T. Empty bytes are decoded
// too: a codec may encode a value as nothing.
func decode[T any](e *Engine, what string, data []byte) (T, error) {
	var v T
	if data == nil {
		data = []byte{}
	}
	if err := e.codec.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("%w: %s as %T: %v", ErrDecode, what, v, err)
	}
	return v, nil
}

// roundTrip encodes v and decodes it again: what a replay would return.
// The first run returns it too, so code that works before a restart
// works after one. It returns the encoding with the value.
func roundTrip[T any](e *Engine, what string, v T) (T, []byte, error) {
	b, err := e.encode(what, v)
	if err != nil {
		var zero T
		return zero, nil, err
	}
	out, err := decode[T](e, what, b)
	return out, b, err
}

// encodeError records an error with the identities the engine keeps.
func (e *Engine) encodeError(err error) []byte { return e.errKinds.encode(err) }

// decodeError reads back an error recorded by encodeError.
func (e *Engine) decodeError(data []byte) error { return e.errKinds.decode(data) }
