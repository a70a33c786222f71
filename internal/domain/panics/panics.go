// Package panics describes a recovered panic for a log line or an error
// without its value. Code panics with what it has at hand, and that may be
// a child's name or what a person typed, which neither the log nor an
// error may hold; the panic's type, a runtime error's message (words and
// numbers of the program, an index out of range, a nil pointer) and the
// stack (whose arguments are words of memory, not text) say where it
// happened, which is what whoever mends it needs.
package panics

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Description is p's type and, for a runtime error, its message.
func Description(p any) string {
	what := fmt.Sprintf("%T", p)
	if re, ok := p.(runtime.Error); ok {
		what += ": " + re.Error()
	}
	return what
}

// Stack is the calling goroutine's stack without its first line, whose
// goroutine number changes from call to call: the same panic at the same
// place then reads the same, so that a log that says a repeated error
// once (the scheduler's) says this one once.
func Stack() string {
	_, frames, _ := strings.Cut(string(debug.Stack()), "\n")
	return frames
}

// Attrs are the log attributes of p: its type, a runtime error's message,
// and the stack.
func Attrs(p any) []any {
	attrs := []any{"panic.type", fmt.Sprintf("%T", p)}
	if re, ok := p.(runtime.Error); ok {
		attrs = append(attrs, "panic", re.Error())
	}
	return append(attrs, "stack", Stack())
}

// Error is the error of p, wrapping err (which says what panicked): its
// description and the stack.
func Error(err error, p any) error {
	return fmt.Errorf("%w (a %s), at:\n%s", err, Description(p), Stack())
}
