package storage_test

import (
	"fmt"
	"testing"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
)

func TestS3(t *testing.T) {
	_, client := storagetest.StartMoto(t, "lake")
	n := 0
	storagetest.Run(t, func(t *testing.T) storage.Store {
		n++ // each subtest gets its own prefix in the one bucket
		return storage.NewS3(client, "lake", fmt.Sprintf("runs/%d/", n))
	})
}
