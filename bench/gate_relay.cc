// Benchmark-only floor for bench/gate_bench.sh: a byte relay with no HTTP
// parsing, no policy and no log. Each accepted connection gets its own
// connection to the upstream and bytes are pumped both ways as they come
// (64 KB reads, TCP_NODELAY on both sides). Going through it costs what any
// proxy on the same machine pays for the second loopback hop: the latency
// the gate adds beyond it is the gate's own work. Not shipped, not a gate.
//
// usage: gate_relay UPSTREAM_PORT
// Prints "port N" on stdout once listening on 127.0.0.1; runs until killed.
#include <boost/asio.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Copies `from` to `to` until either side fails, then closes both.
class Pump : public std::enable_shared_from_this<Pump> {
 public:
  Pump(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to)
      : from_(std::move(from)), to_(std::move(to)), buffer_(64 << 10) {}
  void Read() {
    from_->async_read_some(asio::buffer(buffer_),
                           [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                             if (ec) return self->Close();
                             asio::async_write(*self->to_, asio::buffer(self->buffer_.data(), n),
                                               [self](boost::system::error_code wec, size_t) {
                                                 if (wec) return self->Close();
                                                 self->Read();
                                               });
                           });
  }

 private:
  void Close() {
    boost::system::error_code ignored;
    from_->close(ignored);
    to_->close(ignored);
  }
  std::shared_ptr<tcp::socket> from_, to_;
  std::vector<char> buffer_;
};

void Accept(asio::io_context& io, tcp::acceptor& acceptor, tcp::endpoint upstream) {
  acceptor.async_accept(
      [&io, &acceptor, upstream](boost::system::error_code ec, tcp::socket client) {
        if (!ec) {
          auto down = std::make_shared<tcp::socket>(std::move(client));
          auto up = std::make_shared<tcp::socket>(io);
          boost::system::error_code cec;
          up->connect(upstream, cec);
          if (!cec) {
            down->set_option(tcp::no_delay(true), cec);
            up->set_option(tcp::no_delay(true), cec);
            std::make_shared<Pump>(down, up)->Read();
            std::make_shared<Pump>(up, down)->Read();
          }
        }
        Accept(io, acceptor, upstream);
      });
}

}  // namespace

int main(int argc, char** argv) {
  const int port = argc == 2 ? std::atoi(argv[1]) : 0;
  if (port <= 0 || port > 65535) {
    std::cerr << "usage: gate_relay UPSTREAM_PORT\n";
    return 2;
  }
  asio::io_context io(1);
  const auto loopback = asio::ip::make_address("127.0.0.1");
  tcp::acceptor acceptor(io, tcp::endpoint(loopback, 0));
  Accept(io, acceptor, tcp::endpoint(loopback, static_cast<unsigned short>(port)));
  std::printf("port %u\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  io.run();
  return 0;
}
