// Command nopostgres is a program that links the engine but not the
// PostgreSQL store, as a SQLite-only edge binary does. It opens the
// system database URL given as its argument and prints the error, if
// any. durable's TestAProgramWithoutThePostgresStore builds and runs it.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/dboslite/dboslite/durable"
)

func main() {
	e, err := durable.New(durable.Config{AppName: "edge", SystemDatabaseURL: os.Args[1]})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("opened")
	e.Shutdown(context.Background())
}
