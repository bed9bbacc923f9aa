/*
 * streaming._rtprecv: a publisher's SRTP packet unprotected and parsed in one call, in C.
 *
 * What streaming.direct_receive did in Python for every RTP packet a publisher sends: pylibsrtp's
 * Session.unprotect (a copy into its buffer, libsrtp's srtp_unprotect, a copy out as new bytes),
 * then aiortc's RtpPacket.parse with the transport's header-extension ids (a struct unpack, a
 * Python object for the header, a list of extension elements, a HeaderExtensions object filled
 * by comparing each element's id with every known one). Here the datagram is copied once into a
 * static buffer, unprotected in place by srtp_unprotect (reached through pylibsrtp's cffi
 * binding: the caller passes the function's and the context's addresses), and parsed there into
 * the same aiortc objects, field for field; a malformed packet raises the ValueError aiortc's
 * parser raises. It runs with the GIL held, start to end, so one static buffer serves every call.
 * Written for this project; no code taken from elsewhere.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#define BUFFER_SIZE (65536 + 2048)
#define HEADER_LENGTH 12

typedef int (*unprotect_fn)(void *ctx, void *srtp, int *len);

static unsigned char buffer[BUFFER_SIZE];
static PyObject *empty_tuple;

/* Attribute names: the ids' and the extension values' (HeaderExtensions), the packet's (RtpPacket,
 * in the order its __init__ sets them). */
enum { MID, REPAIRED_RTP_STREAM_ID, RTP_STREAM_ID, ABS_SEND_TIME, TRANSMISSION_OFFSET, AUDIO_LEVEL,
       TRANSPORT_SEQUENCE_NUMBER, EXTENSION_COUNT };
static const char *extension_names[EXTENSION_COUNT] = {
    "mid", "repaired_rtp_stream_id", "rtp_stream_id", "abs_send_time", "transmission_offset",
    "audio_level", "transport_sequence_number",
};
static PyObject *extension_keys[EXTENSION_COUNT];
enum { VERSION, MARKER, PAYLOAD_TYPE, SEQUENCE_NUMBER, TIMESTAMP, SSRC, CSRC, EXTENSIONS, PAYLOAD,
       PADDING_SIZE, PACKET_FIELD_COUNT };
static const char *packet_names[PACKET_FIELD_COUNT] = {
    "version", "marker", "payload_type", "sequence_number", "timestamp", "ssrc", "csrc",
    "extensions", "payload", "padding_size",
};
static PyObject *packet_keys[PACKET_FIELD_COUNT];

static uint32_t read32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static PyObject *value_error(const char *message) {
    PyErr_SetString(PyExc_ValueError, message);
    return NULL;
}

/* The value of one extension element, decoded as aiortc decodes extension ``which``. */
static PyObject *decode_extension(int which, const unsigned char *value, size_t length) {
    switch (which) {
    case MID:
        return PyUnicode_DecodeUTF8((const char *)value, (Py_ssize_t)length, NULL);
    case REPAIRED_RTP_STREAM_ID:
    case RTP_STREAM_ID:
        return PyUnicode_DecodeASCII((const char *)value, (Py_ssize_t)length, NULL);
    case ABS_SEND_TIME:
        if (length != 3) {
            return value_error("RTP abs-send-time extension is not 3 bytes");
        }
        return PyLong_FromUnsignedLong(((unsigned long)value[0] << 16) | ((unsigned long)value[1] << 8) | value[2]);
    case TRANSMISSION_OFFSET: {
        if (length != 3) {
            return value_error("RTP transmission offset extension is not 3 bytes");
        }
        long offset = ((long)value[0] << 16) | ((long)value[1] << 8) | value[2];
        return PyLong_FromLong(offset >= 0x800000 ? offset - 0x1000000 : offset); /* 24-bit signed */
    }
    case AUDIO_LEVEL:
        if (length != 1) {
            return value_error("RTP audio level extension is not 1 byte");
        }
        return Py_BuildValue("(Oi)", (value[0] & 0x80) ? Py_True : Py_False, value[0] & 0x7F);
    default: /* TRANSPORT_SEQUENCE_NUMBER */
        if (length != 2) {
            return value_error("RTP transport sequence number extension is not 2 bytes");
        }
        return PyLong_FromLong(((long)value[0] << 8) | value[1]);
    }
}

/* Set on ``extensions`` each element of the block whose id is one of ``ids`` (-1: not negotiated);
 * the first known id an element matches wins, as in aiortc. 0, or -1 with an error set. */
static int parse_extensions(PyObject *extensions, const long *ids, unsigned profile,
                            const unsigned char *block, size_t length) {
    int one_byte = profile == 0xBEDE, two_byte = profile == 0x1000;
    size_t pos = 0;
    while ((one_byte || two_byte) && pos < length) {
        if (block[pos] == 0) {
            pos++; /* padding */
            continue;
        }
        long id;
        size_t value_length;
        if (one_byte) {
            id = block[pos] >> 4;
            value_length = (size_t)(block[pos] & 0x0F) + 1;
            pos += 1;
            if (length < pos + value_length) {
                value_error("RTP one-byte header extension value is truncated");
                return -1;
            }
        } else {
            if (length < pos + 2) {
                value_error("RTP two-byte header extension is truncated");
                return -1;
            }
            id = block[pos];
            value_length = block[pos + 1];
            pos += 2;
            if (length < pos + value_length) {
                value_error("RTP two-byte header extension value is truncated");
                return -1;
            }
        }
        for (int which = 0; which < EXTENSION_COUNT; which++) {
            if (ids[which] == id) {
                PyObject *value = decode_extension(which, block + pos, value_length);
                if (value == NULL) {
                    return -1;
                }
                int failed = PyObject_SetAttr(extensions, extension_keys[which], value) < 0;
                Py_DECREF(value);
                if (failed) {
                    return -1;
                }
                break;
            }
        }
        pos += value_length;
    }
    return 0;
}

/* A new instance of ``type`` with no attributes set, as object.__new__ makes it. */
static PyObject *bare(PyTypeObject *type) { return type->tp_new(type, empty_tuple, NULL); }

/* aiortc's RtpPacket.parse of data[:length], with the extension ids ``ids``. */
static PyObject *parse(const unsigned char *data, size_t length, const long *ids, PyTypeObject *packet_type,
                       PyTypeObject *extensions_type) {
    if (length < HEADER_LENGTH) {
        return value_error("RTP packet length is less than 12 bytes");
    }
    if (data[0] >> 6 != 2) {
        return value_error("RTP packet has invalid version");
    }
    int padding = (data[0] >> 5) & 1, extension = (data[0] >> 4) & 1, csrc_count = data[0] & 0x0F;
    size_t pos = HEADER_LENGTH + 4 * (size_t)csrc_count;
    if (length < pos) {
        return value_error("RTP packet has truncated CSRC");
    }
    PyObject *values[PACKET_FIELD_COUNT] = {NULL};
    PyObject *packet = NULL;
    values[CSRC] = PyList_New(csrc_count);
    values[EXTENSIONS] = bare(extensions_type);
    if (values[CSRC] == NULL || values[EXTENSIONS] == NULL) {
        goto done;
    }
    for (int i = 0; i < csrc_count; i++) {
        PyObject *source = PyLong_FromUnsignedLong(read32(data + HEADER_LENGTH + 4 * i));
        if (source == NULL) {
            goto done;
        }
        PyList_SET_ITEM(values[CSRC], i, source);
    }
    if (extension) {
        if (length < pos + 4) {
            value_error("RTP packet has truncated extension profile / length");
            goto done;
        }
        unsigned profile = ((unsigned)data[pos] << 8) | data[pos + 1];
        size_t block_length = 4 * (((size_t)data[pos + 2] << 8) | data[pos + 3]);
        pos += 4;
        if (length < pos + block_length) {
            value_error("RTP packet has truncated extension value");
            goto done;
        }
        if (parse_extensions(values[EXTENSIONS], ids, profile, data + pos, block_length) < 0) {
            goto done;
        }
        pos += block_length;
    }
    size_t padding_size = 0;
    if (padding) {
        padding_size = data[length - 1];
        if (padding_size == 0 || padding_size > length - pos) {
            value_error("RTP packet padding length is invalid");
            goto done;
        }
    }
    values[VERSION] = PyLong_FromLong(2);
    values[MARKER] = PyLong_FromLong(data[1] >> 7);
    values[PAYLOAD_TYPE] = PyLong_FromLong(data[1] & 0x7F);
    values[SEQUENCE_NUMBER] = PyLong_FromLong(((long)data[2] << 8) | data[3]);
    values[TIMESTAMP] = PyLong_FromUnsignedLong(read32(data + 4));
    values[SSRC] = PyLong_FromUnsignedLong(read32(data + 8));
    values[PAYLOAD] = PyBytes_FromStringAndSize((const char *)data + pos, (Py_ssize_t)(length - pos - padding_size));
    values[PADDING_SIZE] = PyLong_FromSize_t(padding_size);
    for (int i = 0; i < PACKET_FIELD_COUNT; i++) {
        if (values[i] == NULL) {
            goto done;
        }
    }
    packet = bare(packet_type);
    if (packet == NULL) {
        goto done;
    }
    for (int i = 0; i < PACKET_FIELD_COUNT; i++) {
        if (PyObject_SetAttr(packet, packet_keys[i], values[i]) < 0) {
            Py_CLEAR(packet);
            break;
        }
    }
done:
    for (int i = 0; i < PACKET_FIELD_COUNT; i++) {
        Py_XDECREF(values[i]);
    }
    return packet;
}

/* The negotiated id of each extension, read from aiortc's HeaderExtensions of ids (-1: none). */
static int read_ids(PyObject *ids_object, long *ids) {
    for (int which = 0; which < EXTENSION_COUNT; which++) {
        PyObject *id = PyObject_GetAttr(ids_object, extension_keys[which]);
        if (id == NULL) {
            return -1;
        }
        ids[which] = id == Py_None ? -1 : PyLong_AsLong(id);
        Py_DECREF(id);
        if (ids[which] == -1 && PyErr_Occurred()) {
            return -1;
        }
    }
    return 0;
}

static int check_types(PyObject *packet_type, PyObject *extensions_type) {
    if (!PyType_Check(packet_type) || !PyType_Check(extensions_type)) {
        PyErr_SetString(PyExc_TypeError, "the packet and extensions types must be classes");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(open_rtp_doc,
    "open_rtp(unprotect, context, data, ids, packet_type, extensions_type) -> packet | None\n\n"
    "Unprotect the SRTP packet ``data`` with libsrtp's srtp_unprotect (its address) and the\n"
    "session's context (its address), then parse it as aiortc's RtpPacket.parse does with a map\n"
    "whose negotiated ids are ``ids`` (aiortc's HeaderExtensions of ids). None if libsrtp refused\n"
    "the packet (not authentic, replayed); ValueError if what it unprotected is no RTP packet.");

static PyObject *open_rtp(PyObject *Py_UNUSED(module), PyObject *args) {
    unsigned long long unprotect_address, context_address;
    Py_buffer data;
    PyObject *ids_object, *packet_type, *extensions_type;
    if (!PyArg_ParseTuple(args, "KKy*OOO", &unprotect_address, &context_address, &data, &ids_object,
                          &packet_type, &extensions_type)) {
        return NULL;
    }
    PyObject *result = NULL;
    long ids[EXTENSION_COUNT];
    unprotect_fn unprotect = (unprotect_fn)(uintptr_t)unprotect_address;
    void *context = (void *)(uintptr_t)context_address;
    if (unprotect == NULL || context == NULL) {
        value_error("open_rtp: no unprotect function or context");
    } else if (data.len > BUFFER_SIZE) {
        value_error("open_rtp: datagram larger than the buffer");
    } else if (check_types(packet_type, extensions_type) == 0 && read_ids(ids_object, ids) == 0) {
        memcpy(buffer, data.buf, (size_t)data.len);
        int length = (int)data.len;
        if (unprotect(context, buffer, &length) != 0) {
            result = Py_NewRef(Py_None);
        } else {
            result = parse(buffer, (size_t)length, ids, (PyTypeObject *)packet_type, (PyTypeObject *)extensions_type);
        }
    }
    PyBuffer_Release(&data);
    return result;
}

PyDoc_STRVAR(parse_rtp_doc,
    "parse_rtp(data, ids, packet_type, extensions_type) -> packet\n\n"
    "open_rtp's parse alone, of a packet already in the clear.");

static PyObject *parse_rtp(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer data;
    PyObject *ids_object, *packet_type, *extensions_type;
    if (!PyArg_ParseTuple(args, "y*OOO", &data, &ids_object, &packet_type, &extensions_type)) {
        return NULL;
    }
    PyObject *result = NULL;
    long ids[EXTENSION_COUNT];
    if (check_types(packet_type, extensions_type) == 0 && read_ids(ids_object, ids) == 0) {
        result = parse(data.buf, (size_t)data.len, ids, (PyTypeObject *)packet_type, (PyTypeObject *)extensions_type);
    }
    PyBuffer_Release(&data);
    return result;
}

static PyMethodDef methods[] = {
    {"open_rtp", open_rtp, METH_VARARGS, open_rtp_doc},
    {"parse_rtp", parse_rtp, METH_VARARGS, parse_rtp_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_rtprecv",
    "A publisher's SRTP packet unprotected and parsed in one call, in C (see streaming.direct_receive).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__rtprecv(void) {
    empty_tuple = PyTuple_New(0);
    if (empty_tuple == NULL) {
        return NULL;
    }
    for (int i = 0; i < EXTENSION_COUNT; i++) {
        if ((extension_keys[i] = PyUnicode_InternFromString(extension_names[i])) == NULL) {
            return NULL;
        }
    }
    for (int i = 0; i < PACKET_FIELD_COUNT; i++) {
        if ((packet_keys[i] = PyUnicode_InternFromString(packet_names[i])) == NULL) {
            return NULL;
        }
    }
    return PyModule_Create(&module);
}
