package container

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/user"
)

// The user a container runs as is resolved the way containerd's CRI plugin
// does it (oci.WithUser, WithAdditionalGIDs, WithSupplementalGroups), in
// the container's own root filesystem: the image's /etc/passwd and
// /etc/group, not the node's.

// ErrNoUsersFound and ErrNoGroupsFound are containerd's errors for a user
// or group name that the image's /etc/passwd or /etc/group does not have
// (or that have no such file). The pod lifecycle manager shows the
// container waiting in CreateContainerConfigError with them.
var (
	ErrNoUsersFound  = errors.New("no users found")
	ErrNoGroupsFound = errors.New("no groups found")
)

// Identity is the resolved user of a container's processes: what
// libcontainer runs the init and every exec as.
type Identity struct {
	// UID and GID are the user and its primary group.
	UID, GID int
	// AdditionalGroups are the supplementary groups, the primary GID first.
	AdditionalGroups []int
}

// resolveIdentity computes the identity of a container whose user is
// userSpec (see ContainerSpec.User) in the root filesystem at rootfs.
// Unless strict, the user's memberships in the image's /etc/group are
// added, as containerd does; supplemental are added in any case.
func resolveIdentity(rootfs, userSpec string, supplemental []int64, strict bool) (Identity, error) {
	var id Identity
	var err error
	if userSpec != "" {
		id.UID, id.GID, err = resolveUser(rootfs, userSpec)
		if err != nil {
			return Identity{}, err
		}
	}
	if !strict {
		name, _, _ := strings.Cut(userSpec, ":")
		if name == "" {
			name = "0"
		}
		gids, err := imageGroups(rootfs, name)
		if err != nil {
			return Identity{}, err
		}
		id.AdditionalGroups = gids
	}
	for _, g := range supplemental {
		id.AdditionalGroups = append(id.AdditionalGroups, int(g))
	}
	// containerd's ensureAdditionalGids: the primary group first, then the
	// others, each once.
	groups := []int{id.GID}
	for _, g := range id.AdditionalGroups {
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	id.AdditionalGroups = groups
	return id, nil
}

// resolveUser resolves an image USER string (user, uid, user:group,
// uid:gid, uid:group, user:gid) as containerd's oci.WithUser: a uid alone
// takes its primary group from /etc/passwd (0 when the uid has no entry);
// a name must exist.
func resolveUser(rootfs, spec string) (uid, gid int, err error) {
	parts := strings.Split(spec, ":")
	switch len(parts) {
	case 1:
		if n, ok := parseID(parts[0]); ok {
			u, err := findUser(rootfs, func(u user.User) bool { return u.Uid == n })
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrNoUsersFound) {
				return n, 0, nil
			}
			if err != nil {
				return 0, 0, err
			}
			return n, u.Gid, nil
		}
		if _, err := strconv.Atoi(parts[0]); err == nil {
			return 0, 0, fmt.Errorf("user id %s outside the range", parts[0])
		}
		u, err := findUser(rootfs, func(u user.User) bool { return u.Name == parts[0] })
		if err != nil {
			return 0, 0, userError(spec, err, ErrNoUsersFound)
		}
		return u.Uid, u.Gid, nil
	case 2:
		uid, uok := parseID(parts[0])
		if !uok {
			if _, err := strconv.Atoi(parts[0]); err == nil {
				return 0, 0, fmt.Errorf("user id %s outside the range", parts[0])
			}
			u, err := findUser(rootfs, func(u user.User) bool { return u.Name == parts[0] })
			if err != nil {
				return 0, 0, userError(spec, err, ErrNoUsersFound)
			}
			uid = u.Uid
		}
		gid, gok := parseID(parts[1])
		if !gok {
			if _, err := strconv.Atoi(parts[1]); err == nil {
				return 0, 0, fmt.Errorf("group id %s outside the range", parts[1])
			}
			g, err := findGroup(rootfs, func(g user.Group) bool { return g.Name == parts[1] })
			if err != nil {
				return 0, 0, userError(spec, err, ErrNoGroupsFound)
			}
			gid = g.Gid
		}
		return uid, gid, nil
	default:
		return 0, 0, fmt.Errorf("invalid USER value %s", spec)
	}
}

// userError says which USER could not be resolved; a missing file counts
// as no entry, as in containerd.
func userError(spec string, err, notFound error) error {
	if errors.Is(err, fs.ErrNotExist) {
		err = notFound
	}
	return fmt.Errorf("unable to resolve user %q in the image: %w", spec, err)
}

// parseID parses a decimal uid or gid within runc's range (0 to MaxInt32).
func parseID(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > math.MaxInt32 {
		return 0, false
	}
	return n, true
}

// imageGroups are the groups of /etc/group that list the user (a name, or
// a uid whose name /etc/passwd gives) as a member, not counting a group of
// the user's own name: containerd's WithAdditionalGIDs. No file, or no
// passwd entry for a uid, means none.
func imageGroups(rootfs, who string) ([]int, error) {
	name := who
	if n, err := strconv.Atoi(who); err == nil {
		u, err := findUser(rootfs, func(u user.User) bool { return u.Uid == n })
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrNoUsersFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		name = u.Name
	}
	groups, err := parseInRoot(rootfs, "etc/group", func(r io.Reader) ([]user.Group, error) {
		return user.ParseGroupFilter(r, func(g user.Group) bool {
			return g.Name != name && slices.Contains(g.List, name)
		})
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	gids := make([]int, 0, len(groups))
	for _, g := range groups {
		gids = append(gids, g.Gid)
	}
	return gids, nil
}

// findUser returns the first /etc/passwd entry that matches.
func findUser(rootfs string, match func(user.User) bool) (user.User, error) {
	users, err := parseInRoot(rootfs, "etc/passwd", func(r io.Reader) ([]user.User, error) {
		return user.ParsePasswdFilter(r, match)
	})
	if err != nil {
		return user.User{}, err
	}
	if len(users) == 0 {
		return user.User{}, ErrNoUsersFound
	}
	return users[0], nil
}

// findGroup returns the first /etc/group entry that matches.
func findGroup(rootfs string, match func(user.Group) bool) (user.Group, error) {
	groups, err := parseInRoot(rootfs, "etc/group", func(r io.Reader) ([]user.Group, error) {
		return user.ParseGroupFilter(r, match)
	})
	if err != nil {
		return user.Group{}, err
	}
	if len(groups) == 0 {
		return user.Group{}, ErrNoGroupsFound
	}
	return groups[0], nil
}

// parseInRoot opens name inside rootfs, symlinks resolved within it as
// containerd's fs.RootPath does (an image's /etc/passwd may be a link,
// absolute or not, and must never reach the node's own files), and parses
// it. The root is not running yet, so nothing changes it meanwhile.
func parseInRoot[T any](rootfs, name string, parse func(io.Reader) ([]T, error)) ([]T, error) {
	p, err := securejoin.SecureJoin(rootfs, name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(io.LimitReader(f, 16<<20))
}
