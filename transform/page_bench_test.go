package transform

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/chatlake/chatlake/extract"
	"github.com/chatlake/chatlake/schema"
)

// pageBody is a Conversations API body of n messages of the realistic mix.
func pageBody(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"status":{"code":1000,"desc":"SUCCESS"},"responseObject":{"conversations":[`)
	mix := realisticMix()
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(mix[i%len(mix)])
	}
	b.WriteString(`],"page_number":1,"page_size":500,"total_elements":40}}`)
	return b.Bytes()
}

// BenchmarkDecodeFlatten is the way of a page from body to rows: decode a body of 40 messages
// (about a user's two weeks), then flatten each message (Flatten) or the page (FlattenPage).
//
//	go test -run '^$' -bench DecodeFlatten -benchmem ./transform/
func BenchmarkDecodeFlatten(b *testing.B) {
	body := pageBody(40)
	src, u := testSource(), testUser()
	for _, tc := range []struct {
		name string
		rows func(dst []schema.Message, msgs []json.RawMessage) ([]schema.Message, error)
	}{
		{"Flatten", func(dst []schema.Message, msgs []json.RawMessage) ([]schema.Message, error) {
			for _, raw := range msgs {
				m, err := Flatten(src, u, raw)
				if err != nil {
					return nil, err
				}
				dst = append(dst, m)
			}
			return dst, nil
		}},
		{"FlattenPage", func(dst []schema.Message, msgs []json.RawMessage) ([]schema.Message, error) {
			return FlattenPage(dst, src, u, msgs)
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			dst := make([]schema.Message, 0, 40)
			for b.Loop() {
				p, err := extract.DecodeConversations(bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				if dst, err = tc.rows(dst[:0], p.Messages); err != nil || len(dst) != 40 {
					b.Fatal(len(dst), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*40), "ns/msg")
			b.ReportMetric(float64(testing.AllocsPerRun(10, func() {
				p, _ := extract.DecodeConversations(bytes.NewReader(body))
				dst, _ = tc.rows(dst[:0], p.Messages)
			}))/40, "allocs/msg")
		})
	}
}
