package grpcapi

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

type unitServer struct {
	pb.UnimplementedUnitServiceServer
	pages *pageTokens
	units *units.Registry
	clock clock.Clock
	log   *slog.Logger
}

// errNotAUnitName says what a unit's name is like, not what was sent (see
// intake.ParseCaseName).
var errNotAUnitName = errors.New("is not a unit name like units/00004@2025-07-01")

// parseUnitName accepts "units/{code}@{valid_from}".
func parseUnitName(name string) (units.Key, error) {
	rest, ok := strings.CutPrefix(name, "units/")
	if !ok {
		return units.Key{}, errNotAUnitName
	}
	k, err := units.ParseKey(rest)
	if err != nil {
		return units.Key{}, errNotAUnitName
	}
	return k, nil
}

func (s *unitServer) ListUnits(ctx context.Context, req *pb.ListUnitsRequest) (*pb.ListUnitsResponse, error) {
	var f units.Filter
	if req.GetParent() != "" {
		k, err := parseUnitName(req.GetParent())
		if err != nil {
			return nil, toStatus(ctx, s.log, model.InvalidField("parent", "unit.name", "%v", err))
		}
		// A parent that names no unit (a typo of its code or date) is
		// refused, as a list of cases refuses such a responsible_unit:
		// its empty answer read as a unit without children.
		if _, ok := s.units.Get(k); !ok {
			return nil, toStatus(ctx, s.log, model.InvalidField("parent", "unit.exists", "no unit %s", k))
		}
		f.Parent = k
	}
	f.Level = unitLevels.toModel(req.GetLevel())
	if req.GetAsOfDate() != "" {
		d, err := vntime.ParseDate(req.GetAsOfDate())
		if err != nil {
			return nil, toStatus(ctx, s.log, model.InvalidField("as_of_date", "date.valid", "%v", err))
		}
		f.AsOf = d
	}
	filters := []string{f.Parent.String(), strconv.Itoa(int(f.Level)), req.GetAsOfDate()}
	cursor, err := s.pages.decode(ctx, req.GetPageToken(), filters...)
	if err != nil {
		return nil, err
	}
	// The cursor is the key of the page's last unit, never a position
	// (issue 10), as on every other list: the list is in key order, and
	// the next page starts after that key.
	all := s.units.List(f)
	start := 0
	if cursor != "" {
		after, err := units.ParseKey(cursor)
		if err != nil {
			return nil, badPageToken()
		}
		i, found := slices.BinarySearchFunc(all, after, func(u units.Unit, k units.Key) int { return u.Key.Compare(k) })
		start = i
		if found {
			start++
		}
	}
	end := min(start+pageSize(req.GetPageSize(), 200, 1000), len(all))
	resp := &pb.ListUnitsResponse{}
	for _, u := range all[start:end] {
		resp.Units = append(resp.Units, unitToProto(u, s.units.Predecessors(u.Key)))
	}
	if end < len(all) {
		resp.NextPageToken = s.pages.encode(ctx, all[end-1].Key.String(), filters...)
	}
	return resp, nil
}

func (s *unitServer) GetUnit(ctx context.Context, req *pb.GetUnitRequest) (*pb.Unit, error) {
	name := req.GetName()
	var (
		u  units.Unit
		ok bool
	)
	if code, bare := strings.CutPrefix(name, "units/"); bare && !strings.Contains(code, "@") {
		on := vntime.DateOf(s.clock.Now())
		if req.GetAsOfDate() != "" {
			d, err := vntime.ParseDate(req.GetAsOfDate())
			if err != nil {
				return nil, toStatus(ctx, s.log, model.InvalidField("as_of_date", "date.valid", "%v", err))
			}
			on = d
		}
		u, ok = s.units.InForce(code, on)
	} else {
		k, err := parseUnitName(name)
		if err != nil {
			return nil, toStatus(ctx, s.log, model.InvalidField("name", "unit.name", "%v", err))
		}
		u, ok = s.units.Get(k)
	}
	if !ok {
		return nil, toStatus(ctx, s.log, model.ErrNotFound)
	}
	return unitToProto(u, s.units.Predecessors(u.Key)), nil
}
