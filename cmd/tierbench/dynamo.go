package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tiersession/tiersession/remote"
)

// dynamoFlags are the settings of the DynamoDB remote.
type dynamoFlags struct {
	endpoint       string
	region         string
	table          string
	createTable    bool
	consistentRead bool
	// local starts a DynamoDB Local for the run (-dynamodb-local); run
	// then sets endpoint and createTable.
	local bool
}

// enabled reports whether the run targets DynamoDB rather than the
// in-memory remote.
func (f dynamoFlags) enabled() bool { return f.endpoint != "" || f.table != "" || f.local }

// open builds the DynamoDB client by hand (no shared-config loader, so the
// command pulls in no credential-chain modules) and returns the remote on
// the table, created first when asked.
//
// Credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN. With an explicit endpoint (dynalite, DynamoDB Local)
// and no credentials in the environment, dummy static credentials are
// used: emulators accept any.
func (f dynamoFlags) open(ctx context.Context) (*remote.Dynamo, string, error) {
	if f.table == "" {
		return nil, "", errors.New("-dynamodb-table is empty")
	}
	name := "DynamoDB " + f.region + " table " + f.table
	if f.endpoint != "" {
		u, err := url.Parse(f.endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, "", fmt.Errorf("-dynamodb-endpoint %q: want a URL like http://127.0.0.1:8000", f.endpoint)
		}
		name = "DynamoDB at " + f.endpoint + " table " + f.table
	}
	creds, err := credentials(f.endpoint != "")
	if err != nil {
		return nil, "", err
	}
	cfg := aws.Config{Region: f.region, Credentials: creds}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if f.endpoint != "" {
			o.BaseEndpoint = aws.String(f.endpoint)
		}
	})
	d, err := remote.NewDynamo(client, remote.DynamoOptions{Table: f.table, ConsistentRead: f.consistentRead})
	if err != nil {
		return nil, "", err
	}
	if f.createTable {
		if err := d.EnsureTable(ctx); err != nil {
			return nil, "", fmt.Errorf("creating table %s: %w", f.table, err)
		}
	}
	return d, name, nil
}

// credentials reads static credentials from the environment, or returns
// dummy ones for an emulator.
func credentials(emulator bool) (aws.CredentialsProvider, error) {
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		if !emulator {
			return nil, errors.New("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones); tierbench does not read ~/.aws")
		}
		id, secret = "tierbench", "tierbench"
	}
	c := aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: os.Getenv("AWS_SESSION_TOKEN"), Source: "tierbench"}
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return c, nil }), nil
}

// defaultRegion is AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1.
func defaultRegion() string {
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "us-east-1"
}
