/*
 * streaming._rtpsend: a frame's RTP packets for one viewer, headed, protected and sent in C.
 *
 * The loop of streaming.forwarder.RtpForwarder._send_batched, without the Python per packet: for
 * each batch of a plan (see streaming.srtp_batch.plan_frame) the packets are laid out one after
 * the other in a scratch buffer (12-byte header, then the planned body), protected in place by
 * libsrtp's srtp_protect (reached through pylibsrtp's cffi binding: the caller passes the
 * function's and the context's addresses), remembered for NACKs in the forwarder's history list,
 * and sent with one sendmsg asking for UDP segmentation (UDP_SEGMENT), or one sendto for a batch
 * of one packet. It runs with the GIL held, start to end, so one static buffer serves every call.
 *
 * Datagrams the socket had no room for are returned as bytes for the caller to queue on its
 * transport, in order; other send errors (ICMP unreachable from an earlier datagram: the viewer
 * is leaving) lose the batch, as the Python path does. Written for this project; no code taken
 * from elsewhere.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#define EXPO_UDP_SEGMENT 103 /* linux/udp.h */
#define BUFFER_SIZE (80 * 1024) /* a batch: see the bounds asserted after fan_out's limits */
#define SRTP_MAX_TRAILER 144 /* libsrtp's SRTP_MAX_TRAILER_LEN: tag and MKI it may append */

typedef int (*protect_fn)(void *ctx, void *rtp, int *len);

static unsigned char buffer[BUFFER_SIZE];

/* The 12-byte RTP header: version and flags, marker and payload type, then the three numbers. */
static void write_header(unsigned char *header, long first_byte, long second_byte, uint16_t sequence,
                         uint32_t timestamp, uint32_t ssrc) {
    header[0] = (unsigned char)first_byte;
    header[1] = (unsigned char)(second_byte & 0xFF);
    header[2] = (unsigned char)(sequence >> 8);
    header[3] = (unsigned char)sequence;
    for (int i = 0; i < 4; i++) {
        header[4 + i] = (unsigned char)(timestamp >> (24 - 8 * i));
        header[8 + i] = (unsigned char)(ssrc >> (24 - 8 * i));
    }
}

static int no_gso_errno(int err) {
    return err == EIO || err == EINVAL || err == ENOPROTOOPT || err == EOPNOTSUPP;
}

static ssize_t send_segmented(int fd, const unsigned char *data, size_t length, uint16_t segment,
                              const struct sockaddr *address, socklen_t address_length) {
    struct iovec iov = {(void *)data, length};
    union {
        char bytes[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } control;
    struct msghdr message;
    memset(&message, 0, sizeof(message));
    memset(&control, 0, sizeof(control));
    message.msg_name = (void *)address;
    message.msg_namelen = address_length;
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control.bytes;
    message.msg_controllen = sizeof(control.bytes);
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_UDP;
    header->cmsg_type = EXPO_UDP_SEGMENT;
    header->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    memcpy(CMSG_DATA(header), &segment, sizeof(segment));
    return sendmsg(fd, &message, 0);
}

/* Append the datagrams of data[from:length] (``segment`` bytes each, the last may be shorter). */
static int keep_unsent(PyObject *unsent, const unsigned char *data, size_t from, size_t length,
                       size_t segment) {
    for (size_t start = from; start < length; start += segment) {
        size_t size = length - start < segment ? length - start : segment;
        PyObject *datagram = PyBytes_FromStringAndSize((const char *)data + start, (Py_ssize_t)size);
        if (datagram == NULL || PyList_Append(unsent, datagram) < 0) {
            Py_XDECREF(datagram);
            return -1;
        }
        Py_DECREF(datagram);
    }
    return 0;
}

/* Send data[:length] as datagrams of ``segment`` bytes; 0, or -1 with a Python error set. */
static int send_batch(int fd, size_t length, size_t segment, size_t count, int *gso,
                      const struct sockaddr *address, socklen_t address_length, PyObject *unsent,
                      long *batches) {
    if (count > 1 && *gso) {
        if (send_segmented(fd, buffer, length, (uint16_t)segment, address, address_length) >= 0) {
            *batches += 1;
            return 0;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return keep_unsent(unsent, buffer, 0, length, segment); /* all or none was taken */
        }
        if (!no_gso_errno(errno)) {
            return 0; /* the viewer is leaving: the batch is lost, as a datagram would be */
        }
        *gso = 0; /* the kernel or the route cannot segment: datagram by datagram from now on */
    }
    for (size_t start = 0; start < length; start += segment) {
        size_t size = length - start < segment ? length - start : segment;
        if (sendto(fd, buffer + start, size, 0, address, address_length) < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return keep_unsent(unsent, buffer, start, length, segment);
            }
            return 0;
        }
    }
    return 0;
}

/* Protect in place the packet laid out at buffer + *offset (``length`` bytes in the clear), step
 * past it (the batch's segment size is its first packet's), and remember it in ``history`` as
 * (sequence, timestamp, marker, payload) for NACKs, then count ``sequence`` on. Returns 0, libsrtp's
 * status (positive: nothing remembered) if it refused, or -1 with a Python error set. */
static int protect_and_remember(protect_fn protect, void *context, size_t length, size_t *offset,
                                size_t *segment, PyObject *history, uint16_t *sequence, PyObject *timestamp,
                                PyObject *marker, PyObject *payload) {
    int protected_length = (int)length;
    int status = protect(context, buffer + *offset, &protected_length);
    if (status != 0) {
        return status;
    }
    if (*segment == 0) {
        *segment = (size_t)protected_length;
    }
    *offset += (size_t)protected_length;
    PyObject *entry = Py_BuildValue("(HOOO)", *sequence, timestamp, marker, payload);
    if (entry == NULL || PyList_SetItem(history, *sequence % PyList_GET_SIZE(history), entry) < 0) {
        return -1; /* PyList_SetItem consumed entry */
    }
    *sequence = (uint16_t)(*sequence + 1);
    return 0;
}

PyDoc_STRVAR(send_plan_doc,
    "send_plan(fd, protect, context, plan, payload_type, sequence, timestamp, ssrc, history,\n"
    "          address, gso) -> (sequence, sent, gso, batches, unsent, status)\n\n"
    "Head, protect and send every packet of ``plan`` on socket ``fd`` to ``address`` (a packed\n"
    "sockaddr). ``protect`` and ``context`` are the addresses of libsrtp's srtp_protect and of\n"
    "the session's context. Each packet is remembered in ``history`` at ``sequence % len`` as\n"
    "(sequence, timestamp, marker, payload). Returns the next sequence number, the bytes sent,\n"
    "whether segmentation may be asked for again, the segmented sends made, the datagrams the\n"
    "socket had no room for (bytes, in order) and libsrtp's status (0, or the error that stopped\n"
    "the frame).");

static PyObject *send_plan(PyObject *Py_UNUSED(module), PyObject *args) {
    int fd, payload_type, gso;
    unsigned long long protect_address, context_address;
    PyObject *plan, *history, *address_bytes;
    unsigned long sequence_in, timestamp, ssrc;
    if (!PyArg_ParseTuple(args, "iKKO!ikkkO!Sp", &fd, &protect_address, &context_address,
                          &PyTuple_Type, &plan, &payload_type, &sequence_in, &timestamp, &ssrc,
                          &PyList_Type, &history, &address_bytes, &gso)) {
        return NULL;
    }
    protect_fn protect = (protect_fn)(uintptr_t)protect_address;
    void *context = (void *)(uintptr_t)context_address;
    const struct sockaddr *address = (const struct sockaddr *)PyBytes_AS_STRING(address_bytes);
    socklen_t address_length = (socklen_t)PyBytes_GET_SIZE(address_bytes);
    Py_ssize_t history_size = PyList_GET_SIZE(history);
    if (protect == NULL || context == NULL || history_size == 0 ||
        address_length < (socklen_t)sizeof(struct sockaddr_in)) {
        PyErr_SetString(PyExc_ValueError, "send_plan: no protect function, context, history or address");
        return NULL;
    }
    uint16_t sequence = (uint16_t)sequence_in;
    PyObject *py_timestamp = PyLong_FromUnsignedLong(timestamp);
    PyObject *unsent = PyList_New(0);
    if (py_timestamp == NULL || unsent == NULL) {
        goto fail;
    }
    long long sent = 0;
    long batches = 0;
    int status = 0;
    Py_ssize_t batch_count = PyTuple_GET_SIZE(plan);
    for (Py_ssize_t b = 0; b < batch_count && status == 0; b++) {
        PyObject *batch = PyTuple_GET_ITEM(plan, b);
        if (!PyTuple_Check(batch)) {
            PyErr_SetString(PyExc_TypeError, "send_plan: a batch must be a tuple");
            goto fail;
        }
        Py_ssize_t count = PyTuple_GET_SIZE(batch);
        size_t offset = 0, segment = 0;
        for (Py_ssize_t p = 0; p < count; p++) {
            PyObject *packet = PyTuple_GET_ITEM(batch, p);
            if (!PyTuple_Check(packet) || PyTuple_GET_SIZE(packet) != 4 ||
                !PyBytes_Check(PyTuple_GET_ITEM(packet, 2))) {
                PyErr_SetString(PyExc_TypeError, "send_plan: a packet must be (int, int, bytes, bytes)");
                goto fail;
            }
            long first_byte = PyLong_AsLong(PyTuple_GET_ITEM(packet, 0));
            PyObject *marker_object = PyTuple_GET_ITEM(packet, 1);
            long marker = PyLong_AsLong(marker_object);
            if ((first_byte == -1 || marker == -1) && PyErr_Occurred()) {
                goto fail;
            }
            PyObject *body = PyTuple_GET_ITEM(packet, 2);
            size_t body_length = (size_t)PyBytes_GET_SIZE(body);
            if (offset + 12 + body_length + SRTP_MAX_TRAILER > BUFFER_SIZE) {
                PyErr_SetString(PyExc_ValueError, "send_plan: batch larger than the buffer");
                goto fail;
            }
            unsigned char *header = buffer + offset;
            write_header(header, first_byte, marker | payload_type, sequence, timestamp, ssrc);
            memcpy(header + 12, PyBytes_AS_STRING(body), body_length);
            status = protect_and_remember(protect, context, 12 + body_length, &offset, &segment, history,
                                          &sequence, py_timestamp, marker_object, PyTuple_GET_ITEM(packet, 3));
            if (status < 0) {
                goto fail;
            }
            if (status != 0) {
                break; /* the caller raises: nothing of this batch is sent */
            }
        }
        if (status != 0) {
            break;
        }
        if (send_batch(fd, offset, segment, (size_t)count, &gso, address, address_length, unsent,
                       &batches) < 0) {
            goto fail;
        }
        sent += (long long)offset;
    }
    Py_DECREF(py_timestamp);
    return Py_BuildValue("(HLOlNi)", sequence, sent, gso ? Py_True : Py_False, batches, unsent, status);
fail:
    Py_XDECREF(py_timestamp);
    Py_XDECREF(unsent);
    return NULL;
}


/* ------------------------------------------------------------------------------------------------
 * Outlets: one viewer's send state, for sending a frame to every viewer of a publication in one
 * call (fan_out), with no Python per viewer. An outlet also holds the forwarder's counters when
 * frames go one viewer at a time, so both ways share one sequence-number space.
 */

#define MAX_SEGMENTS 64        /* streaming.srtp_batch.MAX_SEGMENTS */
#define MAX_BATCH_BYTES 60000  /* streaming.srtp_batch.MAX_BATCH_BYTES */
#define MAX_PADDING 16         /* streaming.srtp_batch.MAX_PADDING */
#define MAX_EXTENSION 256
#define MAX_PAYLOAD 65535
/* The buffer holds any batch plan_lengths makes: one packet of the largest payload, or packets
 * whose bodies (extension, payload, padding) add up to MAX_BATCH_BYTES at most. */
_Static_assert(12 + MAX_EXTENSION + MAX_PAYLOAD + MAX_PADDING + SRTP_MAX_TRAILER <= BUFFER_SIZE,
               "a packet of the largest payload fits the buffer");
_Static_assert(MAX_BATCH_BYTES + MAX_SEGMENTS * (12 + SRTP_MAX_TRAILER) <= BUFFER_SIZE,
               "a batch fits the buffer");

typedef struct {
    PyObject_HEAD
    /* Sending: the socket and address, the libsrtp context, the RTP header's fields. */
    int fd;                  /* -1: not configured, fan_out leaves the viewer to Python */
    PyObject *address;       /* bytes: a packed sockaddr */
    void *context;
    int payload_type;
    uint32_t ssrc;
    uint32_t timestamp_origin;
    PyObject *history;       /* list: (sequence, timestamp, marker, payload) per packet */
    PyObject *extension;     /* bytes: the header-extension block with abs-send-time 0 */
    Py_ssize_t abs_offset;   /* where abs-send-time's 3 bytes are in it, or -1 */
    /* What must still hold for a frame to go out here, checked each frame: the DTLS transport
     * connected with this SRTP session, this ICE pair nominated, nothing queued on the socket. */
    PyObject *owner, *dtls, *session, *nominated, *pair, *transport;
    /* Counters written where aiortc reads them: the sender's (its sender reports), the DTLS
     * transport's (its stats), the track's (frames forwarded). */
    PyObject *sender_dict, *dtls_dict, *track_dict;
    /* Shared with the forwarder's Python paths. */
    unsigned int sequence;
    int gso;
    long long packets, octets, packets_sent, batches_sent;
} Outlet;

static PyObject *key_state, *key_tx_srtp, *key_get_write_buffer_size, *key_one;
static PyObject *key_sender_ntp, *key_sender_rtp_timestamp, *key_sender_octets, *key_sender_packets;
static PyObject *key_dtls_bytes, *key_dtls_packets, *key_frames_forwarded;
static PyObject *marker_objects[2];

/* The outlet's references, listed once for the garbage collector's traverse and clear. */
#define OUTLET_REFERENCES(X) \
    X(address) X(history) X(extension) X(owner) X(dtls) X(session) X(nominated) X(pair) \
    X(transport) X(sender_dict) X(dtls_dict) X(track_dict)

static int Outlet_traverse(Outlet *self, visitproc visit, void *arg) {
#define VISIT_REFERENCE(field) Py_VISIT(self->field);
    OUTLET_REFERENCES(VISIT_REFERENCE)
#undef VISIT_REFERENCE
    return 0;
}

static int Outlet_clear(Outlet *self) {
    self->fd = -1;
#define CLEAR_REFERENCE(field) Py_CLEAR(self->field);
    OUTLET_REFERENCES(CLEAR_REFERENCE)
#undef CLEAR_REFERENCE
    return 0;
}

static void Outlet_dealloc(Outlet *self) {
    PyObject_GC_UnTrack(self);
    Outlet_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Outlet_new(PyTypeObject *type, PyObject *Py_UNUSED(args), PyObject *Py_UNUSED(kwds)) {
    Outlet *self = (Outlet *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->fd = -1;
        self->abs_offset = -1;
        self->gso = 1;
    }
    return (PyObject *)self;
}

#define SET_REF(field, value) do { PyObject *old = self->field; Py_INCREF(value); self->field = value; Py_XDECREF(old); } while (0)

PyDoc_STRVAR(configure_doc,
    "configure(fd, address, context, payload_type, ssrc, timestamp_origin, history, extension,\n"
    "          abs_offset, owner, dtls, session, nominated, pair, transport, sender_dict,\n"
    "          dtls_dict, track_dict)\n\n"
    "Let fan_out send to this viewer: as send_plan's arguments, plus the header-extension block\n"
    "(abs-send-time written at ``abs_offset``, -1 for none), what is checked before each frame\n"
    "and the dicts its counters are written to.");

static PyObject *Outlet_configure(Outlet *self, PyObject *args) {
    int fd, payload_type;
    unsigned long long context;
    unsigned long ssrc, timestamp_origin;
    Py_ssize_t abs_offset;
    PyObject *address, *history, *extension, *owner, *dtls, *session, *nominated, *pair, *transport;
    PyObject *sender_dict, *dtls_dict, *track_dict;
    if (!PyArg_ParseTuple(args, "iSKikkO!SnOOOO!OOO!O!O!", &fd, &address, &context, &payload_type,
                          &ssrc, &timestamp_origin, &PyList_Type, &history, &extension, &abs_offset,
                          &owner, &dtls, &session, &PyDict_Type, &nominated, &pair, &transport,
                          &PyDict_Type, &sender_dict, &PyDict_Type, &dtls_dict, &PyDict_Type,
                          &track_dict)) {
        return NULL;
    }
    Py_ssize_t extension_length = PyBytes_GET_SIZE(extension);
    if (fd < 0 || context == 0 || PyList_GET_SIZE(history) == 0 ||
        PyBytes_GET_SIZE(address) < (Py_ssize_t)sizeof(struct sockaddr_in) ||
        extension_length > MAX_EXTENSION || extension_length % 4 != 0 ||
        (abs_offset >= 0 && abs_offset + 3 > extension_length)) {
        PyErr_SetString(PyExc_ValueError, "configure: bad socket, context, history, address or extension");
        return NULL;
    }
    self->fd = fd;
    self->context = (void *)(uintptr_t)context;
    self->payload_type = payload_type;
    self->ssrc = (uint32_t)ssrc;
    self->timestamp_origin = (uint32_t)timestamp_origin;
    self->abs_offset = abs_offset;
    SET_REF(address, address);
    SET_REF(history, history);
    SET_REF(extension, extension);
    SET_REF(owner, owner);
    SET_REF(dtls, dtls);
    SET_REF(session, session);
    SET_REF(nominated, nominated);
    SET_REF(pair, pair);
    SET_REF(transport, transport);
    SET_REF(sender_dict, sender_dict);
    SET_REF(dtls_dict, dtls_dict);
    SET_REF(track_dict, track_dict);
    Py_RETURN_NONE;
}

static PyObject *Outlet_disable(Outlet *self, PyObject *Py_UNUSED(ignored)) {
    self->fd = -1; /* the socket is about to close: never written to from here again */
    Py_RETURN_NONE;
}

static PyObject *Outlet_get_owner(Outlet *self, void *Py_UNUSED(closure)) {
    return Py_NewRef(self->owner != NULL ? self->owner : Py_None);
}

static PyObject *Outlet_get_configured(Outlet *self, void *Py_UNUSED(closure)) {
    return PyBool_FromLong(self->fd >= 0);
}

static PyObject *Outlet_get_sequence(Outlet *self, void *Py_UNUSED(closure)) {
    return PyLong_FromUnsignedLong(self->sequence);
}

static int Outlet_set_sequence(Outlet *self, PyObject *value, void *Py_UNUSED(closure)) {
    unsigned long sequence = value == NULL ? (unsigned long)-1 : PyLong_AsUnsignedLong(value);
    if (sequence == (unsigned long)-1 && (value == NULL || PyErr_Occurred())) {
        if (value == NULL) {
            PyErr_SetString(PyExc_AttributeError, "sequence cannot be deleted");
        }
        return -1;
    }
    self->sequence = (unsigned int)(sequence & 0xFFFF);
    return 0;
}

static PyObject *Outlet_get_gso(Outlet *self, void *Py_UNUSED(closure)) {
    return PyBool_FromLong(self->gso);
}

static int Outlet_set_gso(Outlet *self, PyObject *value, void *Py_UNUSED(closure)) {
    int gso = value == NULL ? -1 : PyObject_IsTrue(value);
    if (gso < 0) {
        if (value == NULL) {
            PyErr_SetString(PyExc_AttributeError, "gso cannot be deleted");
        }
        return -1;
    }
    self->gso = gso;
    return 0;
}

static PyGetSetDef Outlet_getset[] = {
    {"owner", (getter)Outlet_get_owner, NULL, "The track whose frames this outlet sends.", NULL},
    {"configured", (getter)Outlet_get_configured, NULL, "Whether fan_out may send here.", NULL},
    {"sequence", (getter)Outlet_get_sequence, (setter)Outlet_set_sequence, "The next RTP sequence number.", NULL},
    {"gso", (getter)Outlet_get_gso, (setter)Outlet_set_gso, "Whether segmentation may be asked for.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef Outlet_members[] = {
    {"packets", T_LONGLONG, offsetof(Outlet, packets), 0, "Packets, for the sender reports."},
    {"octets", T_LONGLONG, offsetof(Outlet, octets), 0, "Payload octets, for the sender reports."},
    {"packets_sent", T_LONGLONG, offsetof(Outlet, packets_sent), 0, "Packets sent directly."},
    {"batches_sent", T_LONGLONG, offsetof(Outlet, batches_sent), 0, "Segmented sends made."},
    {NULL, 0, 0, 0, NULL},
};

static PyMethodDef Outlet_methods[] = {
    {"configure", (PyCFunction)Outlet_configure, METH_VARARGS, configure_doc},
    {"disable", (PyCFunction)Outlet_disable, METH_NOARGS, "Never send here again until configured."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject OutletType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "streaming._rtpsend.Outlet",
    .tp_doc = PyDoc_STR("One viewer's RTP send state (see fan_out)."),
    .tp_basicsize = sizeof(Outlet),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = Outlet_new,
    .tp_dealloc = (destructor)Outlet_dealloc,
    .tp_traverse = (traverseproc)Outlet_traverse,
    .tp_clear = (inquiry)Outlet_clear,
    .tp_methods = Outlet_methods,
    .tp_members = Outlet_members,
    .tp_getset = Outlet_getset,
};

/* Whether a frame may go out on ``outlet`` now: 1 yes, 0 no, -1 with a Python error set. */
static int outlet_ready(Outlet *outlet, PyObject *connected) {
    if (outlet->fd < 0) {
        return 0;
    }
    PyObject *state = PyObject_GetAttr(outlet->dtls, key_state);
    if (state == NULL) {
        return -1;
    }
    int ready = state == connected;
    Py_DECREF(state);
    if (!ready || PyDict_GetItemWithError(outlet->nominated, key_one) != outlet->pair) {
        return PyErr_Occurred() ? -1 : 0;
    }
    PyObject *session = PyObject_GetAttr(outlet->dtls, key_tx_srtp);
    if (session == NULL) {
        return -1;
    }
    ready = session == outlet->session;
    Py_DECREF(session);
    if (!ready) {
        return 0;
    }
    PyObject *queued = PyObject_CallMethodNoArgs(outlet->transport, key_get_write_buffer_size);
    if (queued == NULL) {
        return -1;
    }
    ready = PyLong_Check(queued) && PyLong_AsLong(queued) == 0;
    Py_DECREF(queued);
    return ready;
}

/* dict[key] += amount, for an int already there (left alone if it is not). */
static int add_to(PyObject *dict, PyObject *key, long long amount) {
    PyObject *value = PyDict_GetItemWithError(dict, key);
    if (value == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    long long current = PyLong_AsLongLong(value);
    if (current == -1 && PyErr_Occurred()) {
        return -1;
    }
    PyObject *sum = PyLong_FromLongLong(current + amount);
    if (sum == NULL) {
        return -1;
    }
    int result = PyDict_SetItem(dict, key, sum);
    Py_DECREF(sum);
    return result;
}

static int set_long(PyObject *dict, PyObject *key, long long value) {
    PyObject *number = PyLong_FromLongLong(value);
    if (number == NULL) {
        return -1;
    }
    int result = PyDict_SetItem(dict, key, number);
    Py_DECREF(number);
    return result;
}

/* The length each payload is sent at (padding included) and where batches start, as
 * streaming.srtp_batch.plan_frame decides them for an extension block of ``extension_length``. */
static void plan_lengths(PyObject *const *payloads, Py_ssize_t count, size_t extension_length,
                         size_t *lengths, char *starts) {
    size_t size = 0, total = 0;
    Py_ssize_t in_batch = 0;
    int closed = 1;
    for (Py_ssize_t i = 0; i < count; i++) {
        size_t length = extension_length + (size_t)PyBytes_GET_SIZE(payloads[i]);
        if (!closed && length <= size && in_batch < MAX_SEGMENTS && total + size <= MAX_BATCH_BYTES) {
            closed = size - length > MAX_PADDING;
            lengths[i] = closed ? length : size;
            starts[i] = 0;
            total += size;
            in_batch++;
            continue;
        }
        lengths[i] = length;
        starts[i] = 1;
        size = total = length;
        closed = 0;
        in_batch = 1;
    }
}

/* Head, protect, remember and send one frame on a ready outlet. Returns 0 (status: libsrtp's error
 * if it stopped the frame), or -1 with a Python error set. */
static int send_frame(Outlet *outlet, protect_fn protect, PyObject *const *payloads, Py_ssize_t count,
                      const size_t *lengths, const char *starts, uint32_t timestamp,
                      const unsigned char *extension, size_t extension_length, PyObject *unsent,
                      long long *sent, int *status) {
    const struct sockaddr *address = (const struct sockaddr *)PyBytes_AS_STRING(outlet->address);
    socklen_t address_length = (socklen_t)PyBytes_GET_SIZE(outlet->address);
    PyObject *py_timestamp = PyLong_FromUnsignedLong(timestamp);
    if (py_timestamp == NULL) {
        return -1;
    }
    uint16_t sequence = (uint16_t)outlet->sequence;
    unsigned char first = extension_length ? 0x90 : 0x80;
    size_t offset = 0, segment = 0;
    Py_ssize_t in_batch = 0;
    long batches = 0;
    *sent = 0;
    *status = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *payload = payloads[i];
        size_t payload_length = (size_t)PyBytes_GET_SIZE(payload);
        size_t body = extension_length + payload_length;
        /* Padded to its batch's size unless it is its batch's last (the next one starts anew). */
        int last_of_batch = i == count - 1 || starts[i + 1];
        size_t padding = last_of_batch ? 0 : lengths[i] - body;
        unsigned char *header = buffer + offset;
        int marker = i == count - 1 ? 0x80 : 0;
        write_header(header, padding ? first | 0x20 : first, marker | outlet->payload_type, sequence, timestamp,
                     outlet->ssrc);
        memcpy(header + 12, extension, extension_length);
        memcpy(header + 12 + extension_length, PyBytes_AS_STRING(payload), payload_length);
        if (padding) {
            memset(header + 12 + body, 0, padding - 1);
            header[12 + body + padding - 1] = (unsigned char)padding;
        }
        *status = protect_and_remember(protect, outlet->context, 12 + body + padding, &offset, &segment,
                                       outlet->history, &sequence, py_timestamp, marker_objects[marker != 0],
                                       payload);
        if (*status < 0) {
            Py_DECREF(py_timestamp);
            return -1;
        }
        if (*status != 0) {
            break; /* nothing more of this frame is sent */
        }
        in_batch++;
        if (last_of_batch) {
            if (send_batch(outlet->fd, offset, segment, (size_t)in_batch, &outlet->gso, address,
                           address_length, unsent, &batches) < 0) {
                Py_DECREF(py_timestamp);
                return -1;
            }
            *sent += (long long)offset;
            offset = segment = 0;
            in_batch = 0;
        }
    }
    Py_DECREF(py_timestamp);
    outlet->sequence = sequence;
    outlet->batches_sent += batches;
    return 0;
}

/* The counters aiortc and the track read, after a frame of ``count`` packets went out. */
static int count_frame(Outlet *outlet, Py_ssize_t count, long long payload_bytes, long long sent,
                       PyObject *ntp_time, uint32_t timestamp) {
    outlet->packets += count;
    outlet->octets += payload_bytes;
    outlet->packets_sent += count;
    PyObject *rtp_timestamp = PyLong_FromUnsignedLong(timestamp);
    if (rtp_timestamp == NULL) {
        return -1;
    }
    int failed = PyDict_SetItem(outlet->sender_dict, key_sender_ntp, ntp_time) < 0 ||
                 PyDict_SetItem(outlet->sender_dict, key_sender_rtp_timestamp, rtp_timestamp) < 0 ||
                 set_long(outlet->sender_dict, key_sender_octets, outlet->octets) < 0 ||
                 set_long(outlet->sender_dict, key_sender_packets, outlet->packets) < 0 ||
                 add_to(outlet->dtls_dict, key_dtls_bytes, sent) < 0 ||
                 add_to(outlet->dtls_dict, key_dtls_packets, count) < 0 ||
                 add_to(outlet->track_dict, key_frames_forwarded, 1) < 0;
    Py_DECREF(rtp_timestamp);
    return failed ? -1 : 0;
}

PyDoc_STRVAR(fan_out_doc,
    "fan_out(protect, connected, payloads, timestamp, ntp_time, outlets) -> [(outlet, unsent, status)]\n\n"
    "Send one frame (its RTP ``payloads``, the same for every viewer, at RTP ``timestamp`` before\n"
    "each outlet's origin, sent at ``ntp_time``) to every configured outlet whose DTLS transport\n"
    "is ``connected`` (the state object), whose pair is still nominated and whose socket has\n"
    "nothing queued, as send_plan would one by one. Returns the outlets that need Python: with\n"
    "``unsent`` None when nothing was sent to them (the caller takes its own path), else the\n"
    "datagrams the socket had no room for (to queue, in order) or libsrtp's ``status``.");

static PyObject *fan_out(PyObject *Py_UNUSED(module), PyObject *args) {
    unsigned long long protect_address;
    unsigned long timestamp;
    PyObject *connected, *payload_list, *ntp_time, *outlets;
    if (!PyArg_ParseTuple(args, "KOO!kOO!", &protect_address, &connected, &PyList_Type, &payload_list,
                          &timestamp, &ntp_time, &PyList_Type, &outlets)) {
        return NULL;
    }
    protect_fn protect = (protect_fn)(uintptr_t)protect_address;
    Py_ssize_t count = PyList_GET_SIZE(payload_list);
    if (protect == NULL || count == 0) {
        PyErr_SetString(PyExc_ValueError, "fan_out: no protect function or no payloads");
        return NULL;
    }
    PyObject *payloads = PyList_AsTuple(payload_list); /* kept as they are while the frame goes */
    PyObject *result = PyList_New(0);
    size_t *lengths = PyMem_Malloc(sizeof(size_t) * (size_t)count);
    char *starts = PyMem_Malloc((size_t)count);
    if (payloads == NULL || result == NULL || lengths == NULL || starts == NULL) {
        if (payloads != NULL && result != NULL) {
            PyErr_NoMemory();
        }
        goto fail;
    }
    PyObject *const *items = &PyTuple_GET_ITEM(payloads, 0);
    long long payload_bytes = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!PyBytes_Check(items[i])) {
            PyErr_SetString(PyExc_TypeError, "fan_out: payloads must be bytes");
            goto fail;
        }
        if (PyBytes_GET_SIZE(items[i]) > MAX_PAYLOAD) {
            PyErr_SetString(PyExc_ValueError, "fan_out: a payload larger than a datagram");
            goto fail; /* checked before anything is sent: then every batch fits the buffer */
        }
        payload_bytes += PyBytes_GET_SIZE(items[i]);
    }
    unsigned char extension[MAX_EXTENSION];
    size_t planned_for = (size_t)-1; /* the extension length lengths/starts were planned for */
    Py_ssize_t outlet_count = PyList_GET_SIZE(outlets);
    for (Py_ssize_t o = 0; o < outlet_count; o++) {
        PyObject *item = PyList_GET_ITEM(outlets, o);
        if (!PyObject_TypeCheck(item, &OutletType)) {
            PyErr_SetString(PyExc_TypeError, "fan_out: outlets must be Outlet objects");
            goto fail;
        }
        Outlet *outlet = (Outlet *)item;
        int ready = outlet_ready(outlet, connected);
        if (ready < 0) {
            goto fail;
        }
        PyObject *report = NULL;
        if (!ready) {
            report = Py_BuildValue("(OOi)", outlet, Py_None, 0);
        } else {
            size_t extension_length = (size_t)PyBytes_GET_SIZE(outlet->extension);
            memcpy(extension, PyBytes_AS_STRING(outlet->extension), extension_length);
            if (outlet->abs_offset >= 0) {
                unsigned long long ntp = PyLong_AsUnsignedLongLong(ntp_time);
                if (ntp == (unsigned long long)-1 && PyErr_Occurred()) {
                    goto fail;
                }
                uint32_t abs_send_time = (uint32_t)((ntp >> 14) & 0xFFFFFF);
                extension[outlet->abs_offset] = (unsigned char)(abs_send_time >> 16);
                extension[outlet->abs_offset + 1] = (unsigned char)(abs_send_time >> 8);
                extension[outlet->abs_offset + 2] = (unsigned char)abs_send_time;
            }
            if (extension_length != planned_for) {
                plan_lengths(items, count, extension_length, lengths, starts);
                planned_for = extension_length;
            }
            PyObject *unsent = PyList_New(0);
            if (unsent == NULL) {
                goto fail;
            }
            uint32_t rtp_timestamp = (uint32_t)(outlet->timestamp_origin + (uint32_t)timestamp);
            long long sent;
            int status;
            if (send_frame(outlet, protect, items, count, lengths, starts, rtp_timestamp, extension,
                           extension_length, unsent, &sent, &status) < 0 ||
                (status == 0 && count_frame(outlet, count, payload_bytes, sent, ntp_time, rtp_timestamp) < 0)) {
                Py_DECREF(unsent);
                goto fail;
            }
            int needs_python = status != 0 || PyList_GET_SIZE(unsent) > 0;
            if (needs_python) {
                report = Py_BuildValue("(OOi)", outlet, unsent, status);
            }
            Py_DECREF(unsent);
            if (!needs_python) {
                continue; /* the usual case: the frame went out whole */
            }
        }
        if (report == NULL || PyList_Append(result, report) < 0) {
            Py_XDECREF(report);
            goto fail;
        }
        Py_DECREF(report);
    }
    Py_DECREF(payloads);
    PyMem_Free(lengths);
    PyMem_Free(starts);
    return result;
fail:
    Py_XDECREF(payloads);
    Py_XDECREF(result);
    PyMem_Free(lengths);
    PyMem_Free(starts);
    return NULL;
}

static PyMethodDef methods[] = {
    {"send_plan", send_plan, METH_VARARGS, send_plan_doc},
    {"fan_out", fan_out, METH_VARARGS, fan_out_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_rtpsend",
    "RTP frames headed, protected and sent in C, to one viewer or to all of them (see streaming.forwarder).",
    -1, methods, NULL, NULL, NULL, NULL,
};

static PyObject *intern(const char *name) { return PyUnicode_InternFromString(name); }

PyMODINIT_FUNC PyInit__rtpsend(void) {
    if (PyType_Ready(&OutletType) < 0) {
        return NULL;
    }
    key_state = intern("_state");
    key_tx_srtp = intern("_tx_srtp");
    key_get_write_buffer_size = intern("get_write_buffer_size");
    key_one = PyLong_FromLong(1);
    key_sender_ntp = intern("_RTCRtpSender__ntp_timestamp");
    key_sender_rtp_timestamp = intern("_RTCRtpSender__rtp_timestamp");
    key_sender_octets = intern("_RTCRtpSender__octet_count");
    key_sender_packets = intern("_RTCRtpSender__packet_count");
    key_dtls_bytes = intern("_RTCDtlsTransport__tx_bytes");
    key_dtls_packets = intern("_RTCDtlsTransport__tx_packets");
    key_frames_forwarded = intern("frames_forwarded");
    marker_objects[0] = PyLong_FromLong(0);
    marker_objects[1] = PyLong_FromLong(0x80);
    if (key_state == NULL || key_tx_srtp == NULL || key_get_write_buffer_size == NULL || key_one == NULL ||
        key_sender_ntp == NULL || key_sender_rtp_timestamp == NULL || key_sender_octets == NULL ||
        key_sender_packets == NULL || key_dtls_bytes == NULL || key_dtls_packets == NULL ||
        key_frames_forwarded == NULL || marker_objects[0] == NULL || marker_objects[1] == NULL) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "Outlet", (PyObject *)&OutletType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
