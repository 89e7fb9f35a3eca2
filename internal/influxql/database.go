package influxql

import (
	"context"
	"fmt"
	"time"
)

// Bounds of CreateDatabase's wait for the new database to be listed.
const (
	// VisibleTimeout is how long CreateDatabase waits for SHOW DATABASES to
	// list a database it created, unless ctx ends first. The statement has
	// run when its answer arrives, so this is a safety net, not a delay.
	VisibleTimeout = 30 * time.Second
	visiblePoll    = 20 * time.Millisecond
)

// CreateDatabase runs CREATE DATABASE (a no-op when the database exists,
// with its default autogen retention policy) on InfluxDB 1.x and returns
// once SHOW DATABASES lists it, so a write that follows finds it. The
// client's Database is ignored.
func (c *Client) CreateDatabase(ctx context.Context, name string) error {
	admin := *c
	admin.Database = ""
	if _, err := admin.Query(ctx, "CREATE DATABASE "+QuoteIdent(name)); err != nil {
		return fmt.Errorf("influxql: create database %s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, VisibleTimeout)
	defer cancel()
	tick := time.NewTicker(visiblePoll)
	defer tick.Stop()
	for {
		ok, err := admin.HasDatabase(ctx, name)
		if err != nil {
			return fmt.Errorf("influxql: create database %s: %w", name, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("influxql: create database %s: not listed by SHOW DATABASES: %w", name, ctx.Err())
		case <-tick.C:
		}
	}
}

// HasDatabase reports whether SHOW DATABASES lists name.
func (c *Client) HasDatabase(ctx context.Context, name string) (bool, error) {
	admin := *c
	admin.Database = ""
	series, err := admin.Query(ctx, "SHOW DATABASES")
	if err != nil {
		return false, err
	}
	for _, s := range series {
		for _, row := range s.Values {
			if len(row) > 0 && row[0] == name {
				return true, nil
			}
		}
	}
	return false, nil
}
