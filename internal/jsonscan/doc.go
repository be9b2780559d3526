// Package jsonscan scans JSON text that encoding/json.Valid has accepted: where a value ends,
// and the members of an object or the elements of an array in the order sent, as byte offsets
// into the text. It is the one home of this scanning for the page decoder (extract) and the
// message flattener (transform).
//
// It does not validate: on text that is not valid JSON its results are meaningless (but it
// does not panic past the end of the text, and it never allocates). Every function is safe for
// concurrent use; none keeps state.
package jsonscan
