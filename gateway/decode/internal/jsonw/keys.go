package jsonw

// keySet finds member names that occur twice in one object, anywhere in a
// document. JSON leaves the meaning of such an object open (encoding/json
// takes the last value, this package's walker the first), so a device
// payload with one is refused rather than read either way.
//
// It holds the names of every object still open, innermost last, as
// offsets into the document. Names are compared as written, escapes not
// decoded: a decoder never reads an escaped name, so "a" and "\u0061" are
// not the same member to it. An object is checked by comparing each new
// name with the ones before it, which for the small objects devices send
// is cheaper than hashing; past linearKeys names the object moves to a map,
// so that a hostile object with thousands of members costs linear time.
// Up to inlineKeys names and inlineObjects open objects live in the
// Reader itself, so that the usual payload allocates nothing.
type keySet struct {
	dup bool // a duplicate was found

	nk    int // names held: keys[0:nk], the first inlineKeys inline
	keys  [inlineKeys]span
	moreK []span
	no    int // open objects: objs[0:no], the first inlineObjects inline
	objs  [inlineObjects]objKeys
	moreO []objKeys
}

const (
	inlineKeys    = 32
	inlineObjects = 8
	linearKeys    = 24
)

// span is a name: data[start:end], quotes excluded.
type span struct{ start, end int32 }

// objKeys is one open object: its names are keys[start:nk], or in set.
type objKeys struct {
	start int
	set   map[string]struct{}
}

func (k *keySet) key(i int) *span { return at(k.keys[:], k.moreK, i) }

func (k *keySet) obj(i int) *objKeys { return at(k.objs[:], k.moreO, i) }

// at is element i of a stack kept in inline, then in more.
func at[T any](inline, more []T, i int) *T {
	if i < len(inline) {
		return &inline[i]
	}
	return &more[i-len(inline)]
}

// put sets element i of such a stack, growing more when i is past it.
func put[T any](inline []T, more *[]T, i int, v T) {
	switch j := i - len(inline); {
	case j < 0:
		inline[i] = v
	case j < len(*more):
		(*more)[j] = v
	default:
		*more = append(*more, v)
	}
}

// open starts an object.
func (k *keySet) open() {
	put(k.objs[:], &k.moreO, k.no, objKeys{start: k.nk})
	k.no++
}

// close ends the innermost object and forgets its names.
func (k *keySet) close() {
	if k.no == 0 {
		return
	}
	k.no--
	o := k.obj(k.no)
	k.nk = o.start
	o.set = nil
}

// add records the name data[start:end] in the innermost object.
func (k *keySet) add(data []byte, start, end int) {
	if k.no == 0 || k.dup {
		return
	}
	o := k.obj(k.no - 1)
	name := data[start:end]
	if o.set != nil {
		if _, ok := o.set[string(name)]; ok {
			k.dup = true
			return
		}
		o.set[string(name)] = struct{}{}
		return
	}
	for i := o.start; i < k.nk; i++ {
		s := k.key(i)
		if int(s.end-s.start) == len(name) && string(data[s.start:s.end]) == string(name) {
			k.dup = true
			return
		}
	}
	put(k.keys[:], &k.moreK, k.nk, span{int32(start), int32(end)})
	k.nk++
	if k.nk-o.start > linearKeys {
		o.set = make(map[string]struct{}, 2*linearKeys)
		for i := o.start; i < k.nk; i++ {
			s := k.key(i)
			o.set[string(data[s.start:s.end])] = struct{}{}
		}
		k.nk = o.start // its names live in the set now
	}
}
