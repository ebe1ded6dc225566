// Package client is the Go client of the CQRS mesh: the gRPC stubs and
// messages of proto/cqrs/v1, generated into the cqrsv1 package by
// `npm run gen` (protoc-gen-go and protoc-gen-go-grpc as buf local plugins,
// see buf.gen.go.yaml). The generated code is not committed; this package
// only anchors the module and documents it.
//
//	conn, _ := grpc.NewClient("127.0.0.1:8010", grpc.WithTransportCredentials(insecure.NewCredentials()))
//	commands := cqrsv1.NewCommandServiceClient(conn)
//	res, err := commands.CreateOrder(ctx, &cqrsv1.CreateOrderRequest{UserId: 123, ProductId: 456, Quantity: 2})
package client
