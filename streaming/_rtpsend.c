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

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#define EXPO_UDP_SEGMENT 103 /* linux/udp.h */
#define BUFFER_SIZE (65536 + 2048)
#define SRTP_MAX_TRAILER 144 /* libsrtp's SRTP_MAX_TRAILER_LEN: tag and MKI it may append */

typedef int (*protect_fn)(void *ctx, void *rtp, int *len);

static unsigned char buffer[BUFFER_SIZE];

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
            header[0] = (unsigned char)first_byte;
            header[1] = (unsigned char)((marker | payload_type) & 0xFF);
            header[2] = (unsigned char)(sequence >> 8);
            header[3] = (unsigned char)sequence;
            header[4] = (unsigned char)(timestamp >> 24);
            header[5] = (unsigned char)(timestamp >> 16);
            header[6] = (unsigned char)(timestamp >> 8);
            header[7] = (unsigned char)timestamp;
            header[8] = (unsigned char)(ssrc >> 24);
            header[9] = (unsigned char)(ssrc >> 16);
            header[10] = (unsigned char)(ssrc >> 8);
            header[11] = (unsigned char)ssrc;
            memcpy(header + 12, PyBytes_AS_STRING(body), body_length);
            int length = (int)(12 + body_length);
            status = protect(context, header, &length);
            if (status != 0) {
                break; /* the caller raises: nothing of this batch is sent */
            }
            if (segment == 0) {
                segment = (size_t)length;
            }
            offset += (size_t)length;
            PyObject *entry = Py_BuildValue("(HOOO)", sequence, py_timestamp, marker_object,
                                            PyTuple_GET_ITEM(packet, 3));
            if (entry == NULL || PyList_SetItem(history, sequence % history_size, entry) < 0) {
                goto fail; /* PyList_SetItem consumed entry */
            }
            sequence = (uint16_t)(sequence + 1);
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

static PyMethodDef methods[] = {
    {"send_plan", send_plan, METH_VARARGS, send_plan_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_rtpsend",
    "A frame's RTP packets for one viewer, headed, protected and sent in C (see streaming.forwarder).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__rtpsend(void) { return PyModule_Create(&module); }
