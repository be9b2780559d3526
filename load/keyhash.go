package load

// fnv-1a-64's offset basis and prime (hash/fnv).
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// keyHash is the hash of a message key: fnv-1a-64, as hash/fnv computes it, without
// hash/fnv's allocation of the key's bytes (a merge hashes every row). A message's shard is
// keyHash mod the partition's shard count (shardOf), and Verify finds duplicate keys by it.
func keyHash(key string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= fnvPrime64
	}
	return h
}
