// Package jsonscan scans JSON text: whether it is valid, where a value ends,
// and the members of an object or the elements of an array in the order sent, as byte offsets
// into the text. It is the one home of this scanning for the page decoder (extract) and the
// message flattener (transform).
//
// Valid, Value and String check text as encoding/json.Valid does (3x faster, without
// allocating): the page decoder checks a body with Valid, and the flattener checks each message
// as it walks it. The Skip and Each functions do not validate: on text that is not valid JSON
// their results are meaningless (but they do not panic past the end of the text, and they
// never allocate). AppendUnquoted and AppendCompact turn a valid string or value into its Go
// text or its compact JSON, as encoding/json does. Every function is safe for concurrent use;
// none keeps state.
package jsonscan
