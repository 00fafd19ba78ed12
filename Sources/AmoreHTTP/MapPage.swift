import Hummingbird

/// `GET /map`: the live map, one self-contained page (`Resources/map.html`, compiled into
/// the binary). It reads only this server's query endpoints; the content security policy
/// keeps it that way (a request anywhere else is refused by the browser, and logged).
enum MapPage {
    static func response() -> Response {
        Response(status: .ok, headers: [
            .contentType: "text/html; charset=utf-8",
            .cacheControl: "no-cache",
            .contentSecurityPolicy: "default-src 'none'; connect-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:",
        ], body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.map_html)))
    }
}
