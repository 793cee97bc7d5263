package groups

import (
	"context"
	"fmt"

	"github.com/berth-dev/berth/channels/terminal"
	"github.com/berth-dev/berth/data"
)

// Operator is the terminal channel's user, the install's operator, who
// counts as owner whatever the store says.
const Operator = terminal.Type + ":" + terminal.UserID

// rank orders roles: a stronger role includes the weaker ones.
func rank(role data.RoleName) int {
	switch role {
	case data.RoleOwner:
		return 3
	case data.RoleAdmin:
		return 2
	case data.RoleMember:
		return 1
	}
	return 0
}

// Allowed reports whether userID holds the role need (owner, admin or
// member) for the agent group groupID ("" asks for the role globally).
// Owner includes everything; a global admin is admin of every group; an
// admin of a group is also its member. While the install has no owner
// nobody but the terminal operator holds an admin role.
func Allowed(ctx context.Context, store *data.Store, userID string, need data.RoleName, groupID string) (bool, error) {
	if rank(need) == 0 {
		return false, fmt.Errorf("check role: unknown role %q", need)
	}
	if userID == Operator {
		return true, nil
	}
	roles, err := store.Roles(ctx, userID)
	if err != nil {
		return false, fmt.Errorf("check role of %s: %w", userID, err)
	}
	if rank(need) >= rank(data.RoleAdmin) {
		owned, err := store.HasOwner(ctx)
		if err != nil {
			return false, fmt.Errorf("check role of %s: %w", userID, err)
		}
		if !owned {
			return false, nil
		}
	}
	for _, r := range roles {
		if r.Role == data.RoleOwner {
			return true, nil
		}
		if rank(r.Role) < rank(need) {
			continue
		}
		if r.GroupID == "" || (groupID != "" && r.GroupID == groupID) {
			return true, nil
		}
	}
	return false, nil
}
