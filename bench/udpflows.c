/*
 * udpflows: paced UDP from several sources, for measuring sharptablesd with several queues.
 * Sends Ethernet/IPv4/UDP frames on an AF_PACKET socket (sendmmsg batches) for a fixed time,
 * the source address cycling through FLOWS consecutive addresses from SRC_IP (so
 * --queue-balance spreads them), at no more than RATE packets per second (0: as fast as
 * possible), then prints "sent=<packets> seconds=<elapsed> flows=<n>".
 *
 * usage: udpflows IFNAME SRC_MAC DST_MAC SRC_IP DST_IP DPORT SECONDS FLOWS RATE
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32
#define PAYLOAD 18
#define MAX_FLOWS 256

static int mac_of(const char *text, unsigned char *mac)
{
    return sscanf(text, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) == 6 ? 0 : -1;
}

/* RFC 1071 one's complement sum over the IPv4 header. */
static uint16_t header_checksum(const void *header, size_t length)
{
    const uint8_t *b = header;
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < length; i += 2) sum += (uint32_t)(b[i] << 8 | b[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return htons((uint16_t)~sum);
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 10) {
        fprintf(stderr, "usage: %s IFNAME SRC_MAC DST_MAC SRC_IP DST_IP DPORT SECONDS FLOWS RATE\n", argv[0]);
        return 2;
    }
    double duration = atof(argv[7]);
    int flows = atoi(argv[8]);
    double rate = atof(argv[9]);
    unsigned char src_mac[6], dst_mac[6];
    struct in_addr src, dst;
    if (mac_of(argv[2], src_mac) || mac_of(argv[3], dst_mac) || inet_pton(AF_INET, argv[4], &src) != 1
        || inet_pton(AF_INET, argv[5], &dst) != 1 || duration <= 0 || duration > 120 || flows < 1 || flows > MAX_FLOWS || rate < 0) {
        fprintf(stderr, "udpflows: bad argument\n");
        return 2;
    }

    /* One frame per flow: only the source address (and so the header checksum) differs. */
    static unsigned char frames[MAX_FLOWS][64];
    size_t frame_length = sizeof(struct ether_header) + sizeof(struct iphdr) + sizeof(struct udphdr) + PAYLOAD;
    for (int f = 0; f < flows; f++) {
        unsigned char *frame = frames[f];
        memset(frame, 0, sizeof frames[f]);
        struct ether_header *eth = (struct ether_header *)frame;
        memcpy(eth->ether_dhost, dst_mac, 6);
        memcpy(eth->ether_shost, src_mac, 6);
        eth->ether_type = htons(ETHERTYPE_IP);
        struct iphdr *ip = (struct iphdr *)(eth + 1);
        ip->version = 4;
        ip->ihl = 5;
        ip->ttl = 64;
        ip->protocol = IPPROTO_UDP;
        ip->tot_len = htons(sizeof(struct iphdr) + sizeof(struct udphdr) + PAYLOAD);
        ip->id = htons(1);
        ip->saddr = htonl(ntohl(src.s_addr) + (uint32_t)f);
        ip->daddr = dst.s_addr;
        ip->check = header_checksum(ip, sizeof *ip);
        struct udphdr *udp = (struct udphdr *)(ip + 1);
        udp->source = htons(40000);
        udp->dest = htons((uint16_t)atoi(argv[6]));
        udp->len = htons(sizeof(struct udphdr) + PAYLOAD);
    }

    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    if (fd < 0) { perror("socket"); return 1; }
    struct sockaddr_ll to = {0};
    to.sll_family = AF_PACKET;
    to.sll_protocol = htons(ETH_P_IP);
    to.sll_ifindex = (int)if_nametoindex(argv[1]);
    if (to.sll_ifindex == 0) { perror("if_nametoindex"); return 1; }
    if (bind(fd, (struct sockaddr *)&to, sizeof to) < 0) { perror("bind"); return 1; }
    int on = 1;
    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &on, sizeof on);

    struct mmsghdr messages[BATCH];
    struct iovec parts[BATCH];
    memset(messages, 0, sizeof messages);
    unsigned long long sent = 0;
    double start = seconds_now(), now = start;
    while (now - start < duration) {
        for (int i = 0; i < BATCH; i++) {
            parts[i].iov_base = frames[(sent + (unsigned)i) % (unsigned)flows];
            parts[i].iov_len = frame_length;
            messages[i].msg_hdr.msg_iov = &parts[i];
            messages[i].msg_hdr.msg_iovlen = 1;
        }
        int n = sendmmsg(fd, messages, BATCH, 0);
        if (n > 0) sent += (unsigned)n;
        else if (n < 0 && errno != EAGAIN && errno != ENOBUFS && errno != EINTR) { perror("sendmmsg"); break; }
        now = seconds_now();
        if (rate > 0) {
            /* Sleep until the packets sent so far are due. */
            double ahead = start + (double)sent / rate - now;
            if (ahead > 0) {
                struct timespec ts = { (time_t)ahead, (long)((ahead - (double)(time_t)ahead) * 1e9) };
                nanosleep(&ts, NULL);
                now = seconds_now();
            }
        }
    }
    printf("sent=%llu seconds=%.6f flows=%d\n", sent, now - start, flows);
    return 0;
}
