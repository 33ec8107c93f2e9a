// Command udpecho is the UDP server and client of the e2e tests of UDP
// Services: the test image's busybox nc has no UDP mode and busybox has no
// UDP server at all, so the tests build this program (statically, standard
// library only) and give it to pods through a hostPath volume.
//
//	udpecho serve PORT     answer every datagram with this host's name
//	udpecho ask ADDR N     send N datagrams to ADDR (host:port, the host a
//	                       name or an IP), each from a new socket so that
//	                       each is a new flow for the service proxy, and
//	                       print one line per datagram, "<n> <answer>" or
//	                       "<n> FAIL <error>"
//
// ask exits 0 when at least one answer came back.
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// askTimeout bounds the wait for one answer.
const askTimeout = 2 * time.Second

func main() {
	if len(os.Args) < 3 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2])
	case "ask":
		if len(os.Args) != 4 {
			usage()
		}
		n, convErr := strconv.Atoi(os.Args[3])
		if convErr != nil {
			usage()
		}
		err = ask(os.Args[2], n)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "udpecho:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: udpecho serve PORT | udpecho ask HOST:PORT N")
	os.Exit(2)
}

// serve answers each datagram on port with the host name, until killed.
func serve(port string) error {
	name, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("host name: %w", err)
	}
	conn, err := net.ListenPacket("udp", ":"+port)
	if err != nil {
		return fmt.Errorf("listen on udp port %s: %w", port, err)
	}
	buf := make([]byte, 2048)
	for {
		_, from, err := conn.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if _, err := conn.WriteTo([]byte(name), from); err != nil {
			fmt.Fprintf(os.Stderr, "udpecho: answer %s: %v\n", from, err)
		}
	}
}

// ask sends n datagrams to addr and prints the answers.
func ask(addr string, n int) error {
	answered := 0
	for i := range n {
		reply, err := askOnce(addr, i)
		if err != nil {
			fmt.Printf("%d FAIL %v\n", i+1, err)
			continue
		}
		answered++
		fmt.Printf("%d %s\n", i+1, reply)
	}
	if answered == 0 {
		return fmt.Errorf("no answer from %s to %d datagrams", addr, n)
	}
	return nil
}

// askOnce sends one datagram from a fresh socket and waits for the answer.
func askOnce(addr string, i int) (string, error) {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(askTimeout)); err != nil {
		return "", err
	}
	if _, err := fmt.Fprintf(conn, "ping %d", i); err != nil {
		return "", err
	}
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
