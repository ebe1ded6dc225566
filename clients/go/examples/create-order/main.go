// create-order places one order through CommandService and reads it back
// through QueryService, the way another Go service would use the mesh:
//
//	go run ./examples/create-order -command 127.0.0.1:8010 -query 127.0.0.1:8011 -user 123 -product 456 -quantity 2
//
// It prints the order as the query side returns it, one JSON object with
// proto field names, and exits 0; any failure is one line on stderr and exit 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"cqrs-mesh/clients/go/cqrsv1"
)

func main() {
	commandAddr := flag.String("command", "127.0.0.1:8010", "command-svc gRPC address (host:port)")
	queryAddr := flag.String("query", "127.0.0.1:8011", "query-svc gRPC address (host:port)")
	user := flag.Int("user", 123, "user id")
	product := flag.Int("product", 456, "product id")
	quantity := flag.Int("quantity", 1, "units to order")
	key := flag.String("idempotency-key", "", "sent as idempotency-key metadata, so a retry returns the first answer")
	wait := flag.Duration("wait", 10*time.Second, "how long to wait for the read side to show the order")
	flag.Parse()
	if err := run(*commandAddr, *queryAddr, int32(*user), int32(*product), int32(*quantity), *key, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "create-order:", err)
		os.Exit(1)
	}
}

func run(commandAddr, queryAddr string, user, product, quantity int32, key string, wait time.Duration) error {
	commandConn, err := dial(commandAddr)
	if err != nil {
		return err
	}
	defer commandConn.Close()
	queryConn, err := dial(queryAddr)
	if err != nil {
		return err
	}
	defer queryConn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "idempotency-key", key)
	}
	created, err := cqrsv1.NewCommandServiceClient(commandConn).CreateOrder(ctx, &cqrsv1.CreateOrderRequest{
		UserId: user, ProductId: product, Quantity: quantity,
	})
	if err != nil {
		return fmt.Errorf("CreateOrder: %w", described(err))
	}
	fmt.Fprintf(os.Stderr, "created order %s (%s)\n", created.GetOrderId(), created.GetStatus())

	order, err := readBack(cqrsv1.NewQueryServiceClient(queryConn), created.GetOrderId(), wait)
	if err != nil {
		return err
	}
	out, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(order)
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

func dial(addr string) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	return conn, nil
}

// readBack polls GetOrder: the read models are updated from events, so a
// just-created order may be NOT_FOUND for a moment. Bounded by wait.
func readBack(queries cqrsv1.QueryServiceClient, orderID string, wait time.Duration) (*cqrsv1.Order, error) {
	deadline := time.Now().Add(wait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		res, err := queries.GetOrder(ctx, &cqrsv1.GetOrderRequest{OrderId: orderID})
		cancel()
		if err == nil {
			return res.GetOrder(), nil
		}
		if status.Code(err) != codes.NotFound || time.Now().After(deadline) {
			return nil, errors.Join(fmt.Errorf("GetOrder %s", orderID), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// described spells out a gRPC error: its code, message and, for bad input,
// every field the command-svc named (google.rpc.BadRequest in the status
// details; importing errdetails registers the type so Details() decodes it).
func described(err error) error {
	st := status.Convert(err)
	msg := fmt.Sprintf("%s: %s", st.Code(), st.Message())
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				msg += fmt.Sprintf("\n  %s: %s", v.GetField(), v.GetDescription())
			}
		}
	}
	return errors.New(msg)
}
