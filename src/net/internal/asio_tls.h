// Internal to src/net: the Asio side of TlsContext. Include only from net/*.cc.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include "net/tls.h"

namespace glassbox::net {

struct TlsContext::Impl {
  explicit Impl(boost::asio::ssl::context::method m) : ctx(m) {}
  boost::asio::ssl::context ctx;
};

}  // namespace glassbox::net
